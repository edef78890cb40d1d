// The free-slot stack: a bounded LIFO of free slot references in shared memory, from which
// admission takes slots. Last in, first out on purpose: a producer reuses the slot freed most
// recently, so the slots in use stay few and hot in caches and page tables. A first-in
// first-out free list cycles through every slot of the queue (272 MB at the defaults), and each
// process took a page fault on nearly every job.
//
// One pusher (the daemon's engine thread), many poppers (producers). An array, not a linked
// list: a stale or repeated reference in it cannot corrupt the structure, so references stay
// hints that the slot's state word validates, as in the rings (slot_claim.h). `top` packs a
// change counter with the depth; every pop and push bumps the counter, so a popper that read a
// cell cannot succeed after someone else moved the top (ABA). With a single pusher, the cell a
// pusher writes is always above every depth a popper can still succeed with.
//
// A popper that dies between its pop and its claim of the slot would lose the slot for good:
// it writes the reference into its client entry's `popping` word first, and the daemon offers
// that slot again when it releases a dead client whose slot is still unclaimed (at worst the
// reference is then in the stack twice; one claim wins, the other is skipped).
#ifndef TASKRING_SEGMENT_FREE_STACK_H_
#define TASKRING_SEGMENT_FREE_STACK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "segment/cache_line.h"

namespace taskring::segment {

struct alignas(kCacheLine) FreeStackHeader {
  std::atomic<uint64_t> top;  // (change counter << 32) | depth
  uint32_t capacity;          // informational: views use their own validated copy
};
static_assert(sizeof(FreeStackHeader) == kCacheLine);
static_assert(offsetof(FreeStackHeader, top) == 0);
static_assert(offsetof(FreeStackHeader, capacity) == 8);

inline uint64_t FreeStackBytes(uint32_t capacity) {
  return sizeof(FreeStackHeader) + uint64_t{capacity} * sizeof(std::atomic<uint64_t>);
}

class FreeStackView {
 public:
  FreeStackView() = default;
  // `capacity` comes from the validated layout, never from the shared header.
  FreeStackView(FreeStackHeader* header, std::atomic<uint64_t>* cells, uint32_t capacity)
      : h_(header), cells_(cells), cap_(capacity) {}

  // Creator only, before the segment is published.
  void Init() {
    h_->top.store(0, std::memory_order_relaxed);
    h_->capacity = cap_;
    for (uint32_t i = 0; i < cap_; ++i) cells_[i].store(0, std::memory_order_relaxed);
  }

  // The single pusher only. False when full (or the top is corrupt).
  [[nodiscard]] bool Push(uint64_t value) {
    uint64_t top = h_->top.load(std::memory_order_acquire);
    for (uint32_t round = 0; round < kMaxRounds; ++round) {
      const uint32_t depth = Depth(top);
      if (depth >= cap_) return false;
      // Above every depth a pop can still succeed at: pops only lower the top.
      cells_[depth].store(value, std::memory_order_relaxed);
      if (h_->top.compare_exchange_weak(top, Next(top, depth + 1), std::memory_order_release,
                                        std::memory_order_acquire)) {
        return true;
      }
    }
    return false;
  }

  // Pops the newest value into `*out`, recording it in `*intent` before the pop takes effect.
  // False when empty (or the top is corrupt). Safe with concurrent poppers and the pusher.
  [[nodiscard]] bool Pop(std::atomic<uint64_t>* intent, uint64_t* out) {
    uint64_t top = h_->top.load(std::memory_order_acquire);
    for (uint32_t round = 0; round < kMaxRounds; ++round) {
      const uint32_t depth = Depth(top);
      if (depth == 0 || depth > cap_) return false;
      const uint64_t value = cells_[depth - 1].load(std::memory_order_relaxed);
      intent->store(value, std::memory_order_relaxed);
      // Release orders the intent before the pop; acquire on failure re-reads the cells.
      if (h_->top.compare_exchange_weak(top, Next(top, depth - 1), std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        *out = value;
        return true;
      }
    }
    return false;
  }

  // Values in the stack (exact when nobody is pushing or popping).
  [[nodiscard]] uint32_t SizeApprox() const {
    const uint32_t depth = Depth(h_->top.load(std::memory_order_acquire));
    return depth > cap_ ? 0 : depth;
  }
  [[nodiscard]] uint32_t capacity() const { return cap_; }

 private:
  // Bounds retries after losing races, so a corrupt top fails instead of spinning forever.
  static constexpr uint32_t kMaxRounds = 1u << 20;

  static uint32_t Depth(uint64_t top) { return static_cast<uint32_t>(top); }
  static uint64_t Next(uint64_t top, uint32_t depth) { return (((top >> 32) + 1) << 32) | depth; }

  FreeStackHeader* h_ = nullptr;
  std::atomic<uint64_t>* cells_ = nullptr;
  uint32_t cap_ = 0;
};

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_FREE_STACK_H_
