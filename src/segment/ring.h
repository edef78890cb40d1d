// Bounded lock-free MPMC ring of 64-bit values in shared memory (Vyukov's sequence-numbered
// cells), used for the free-slot ring (admission) and the dispatch ring (hand-out to workers).
//
// Crash-tolerance differences from the textbook version:
//  - A consumer finishes its pop with a CAS on the cell sequence (not a store), so the daemon can
//    complete, on behalf of a consumer that died mid-pop, a cell that wedges the ring; the late
//    CAS of a consumer that was only stopped then fails harmlessly.
//  - TryPopClaim lets the consumer act on the value (claim the slot it names) *before* releasing
//    the cell, so a consumer that dies after taking a job has its claim recorded in the slot.
//  - Values are hints: the slot state word is the authority (docs/architecture.md).
#ifndef TASKRING_SEGMENT_RING_H_
#define TASKRING_SEGMENT_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "segment/cache_line.h"

namespace taskring::segment {

struct alignas(kCacheLine) RingHeader {
  uint32_t capacity;  // power of two; informational: views use their own validated copy
  uint32_t mask;
  alignas(kCacheLine) std::atomic<uint64_t> tail;  // next push position
  alignas(kCacheLine) std::atomic<uint64_t> head;  // next pop position
  // Consumers that found the ring empty sleep on `futex`; pushers wake them if `sleepers` > 0.
  alignas(kCacheLine) std::atomic<uint32_t> futex;
  std::atomic<uint32_t> sleepers;
};
static_assert(sizeof(RingHeader) == 4 * kCacheLine);
static_assert(offsetof(RingHeader, capacity) == 0);
static_assert(offsetof(RingHeader, mask) == 4);
static_assert(offsetof(RingHeader, tail) == 64);
static_assert(offsetof(RingHeader, head) == 128);
static_assert(offsetof(RingHeader, futex) == 192);
static_assert(offsetof(RingHeader, sleepers) == 196);

struct RingCell {
  std::atomic<uint64_t> seq;
  std::atomic<uint64_t> value;
};
static_assert(sizeof(RingCell) == 16);
static_assert(offsetof(RingCell, seq) == 0);
static_assert(offsetof(RingCell, value) == 8);

inline uint64_t RingBytes(uint32_t capacity) {
  return sizeof(RingHeader) + static_cast<uint64_t>(capacity) * sizeof(RingCell);
}

class RingView {
 public:
  RingView() = default;
  // `capacity` (a power of two) comes from the validated layout, never from the shared header,
  // so a process scribbling on the header cannot steer indexing out of bounds.
  RingView(RingHeader* header, RingCell* cells, uint32_t capacity)
      : h_(header), cells_(cells), cap_(capacity) {}

  // Creator only, before the segment is published.
  void Init() {
    const uint32_t capacity = cap_;
    h_->capacity = capacity;
    h_->mask = capacity - 1;
    h_->tail.store(0, std::memory_order_relaxed);
    h_->head.store(0, std::memory_order_relaxed);
    h_->futex.store(0, std::memory_order_relaxed);
    h_->sleepers.store(0, std::memory_order_relaxed);
    for (uint64_t i = 0; i < capacity; ++i) {
      cells_[i].seq.store(i, std::memory_order_relaxed);
      cells_[i].value.store(0, std::memory_order_relaxed);
    }
  }

  // False when full. Lock-free; safe with concurrent pushers.
  [[nodiscard]] bool TryPush(uint64_t value) {
    const uint64_t mask = cap_ - 1;
    uint64_t pos = h_->tail.load(std::memory_order_relaxed);
    for (uint32_t round = 0; round < kMaxRounds; ++round) {
      RingCell& cell = cells_[pos & mask];
      const uint64_t seq = cell.seq.load(std::memory_order_acquire);
      const int64_t diff = static_cast<int64_t>(seq - pos);
      if (diff == 0) {
        if (h_->tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value.store(value, std::memory_order_relaxed);
          cell.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = h_->tail.load(std::memory_order_relaxed);
      }
    }
    return false;  // cursors inconsistent with the cells (corrupted): give up, never spin
  }

  // Pops one value; `claim(value)` runs before the cell is released (see the file comment).
  // False when empty.
  template <typename Claim>
  [[nodiscard]] bool TryPopClaim(uint64_t* out, Claim claim) {
    const uint64_t mask = cap_ - 1;
    const uint64_t cap = cap_;
    uint64_t pos = h_->head.load(std::memory_order_relaxed);
    for (uint32_t round = 0; round < kMaxRounds; ++round) {
      RingCell& cell = cells_[pos & mask];
      const uint64_t seq = cell.seq.load(std::memory_order_acquire);
      const int64_t diff = static_cast<int64_t>(seq - (pos + 1));
      if (diff == 0) {
        if (h_->head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          const uint64_t v = cell.value.load(std::memory_order_relaxed);
          claim(v);
          uint64_t expected = pos + 1;
          // Fails only if the daemon already repaired this cell for us.
          cell.seq.compare_exchange_strong(expected, pos + cap, std::memory_order_release,
                                           std::memory_order_relaxed);
          *out = v;
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = h_->head.load(std::memory_order_relaxed);
      }
    }
    return false;
  }

  [[nodiscard]] bool TryPop(uint64_t* out) {
    return TryPopClaim(out, [](uint64_t) {});
  }

  // Pusher side, after TryPush failed on a ring that cannot legitimately be full: if the cell
  // at the tail was claimed by a consumer that never released it (it died, or is stopped,
  // between moving `head` and its release CAS), completes that release on its behalf and
  // returns the value the consumer took, so the caller can re-offer it (values are hints,
  // validated by the slot CAS, so a consumer that was merely stopped cannot double-own it).
  // False if the tail cell is not in that state.
  [[nodiscard]] bool RepairStuckTail(uint64_t* taken_value) {
    const uint64_t cap = cap_;
    const uint64_t pos = h_->tail.load(std::memory_order_relaxed);
    if (pos < cap) return false;
    // A full ring has the same sequence at its tail cell; only a moved head tells that the
    // position was taken by a consumer.
    if (h_->head.load(std::memory_order_acquire) <= pos - cap) return false;
    RingCell& cell = cells_[pos & (cap - 1)];
    uint64_t claimed = pos - cap + 1;  // what a consumer at pos - cap left behind
    const uint64_t value = cell.value.load(std::memory_order_relaxed);
    if (!cell.seq.compare_exchange_strong(claimed, pos, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
      return false;
    }
    *taken_value = value;
    return true;
  }

  // True if the tail cell was claimed by a consumer that has not released it yet; `pos` is the
  // tail position. A consumer normally releases within nanoseconds, so a caller that sees the
  // same position stuck for its repair timeout knows the consumer died (or was stopped).
  [[nodiscard]] bool TailClaimedButUnreleased(uint64_t* pos) const {
    const uint64_t cap = cap_;
    const uint64_t p = h_->tail.load(std::memory_order_relaxed);
    if (p < cap || h_->head.load(std::memory_order_acquire) <= p - cap) return false;
    *pos = p;
    return cells_[p & (cap - 1)].seq.load(std::memory_order_acquire) == p - cap + 1;
  }

  // Items pushed and not yet popped (approximate under concurrency).
  [[nodiscard]] uint64_t SizeApprox() const {
    const uint64_t t = h_->tail.load(std::memory_order_acquire);
    const uint64_t hd = h_->head.load(std::memory_order_acquire);
    return t > hd ? t - hd : 0;
  }
  [[nodiscard]] uint32_t capacity() const { return cap_; }
  RingHeader* header() const { return h_; }

 private:
  // Bounds retries after losing a race (legitimately a handful), so corrupted cursors make an
  // operation fail instead of spinning forever.
  static constexpr uint32_t kMaxRounds = 1u << 20;

  RingHeader* h_ = nullptr;
  RingCell* cells_ = nullptr;
  uint32_t cap_ = 0;
};

// Ring values carry a slot index and the slot generation they were issued for.
inline uint64_t PackSlotRef(uint32_t slot, uint32_t gen) {
  return (static_cast<uint64_t>(slot) << 32) | gen;
}
inline uint32_t RefSlot(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
inline uint32_t RefGen(uint64_t v) { return static_cast<uint32_t>(v); }

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_RING_H_
