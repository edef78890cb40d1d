// A client's lane: single-producer (the client) single-consumer (the daemon) ring of
// LaneRecords, what a client asks the daemon to do. Its cursors live in the client's entry
// (client_table.h). One lane per client means a client that dies mid-push can wedge nothing but
// its own lane, which the daemon reclaims with the client entry.
#ifndef TASKRING_SEGMENT_LANE_H_
#define TASKRING_SEGMENT_LANE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "segment/client_table.h"

namespace taskring::segment {

// A lane record: what a client asks the daemon to do with a slot.
// kPause/kResume/kPurge act on the whole queue (QueueControl); their slot field is unused.
// kCancel names a job by id instead of a slot.
enum class LaneOp : uint32_t {
  kEnqueue = 1,
  kStart = 2,
  kComplete = 3,
  kFail = 4,
  kTouch = 5,
  kPause = 6,
  kResume = 7,
  kPurge = 8,
  // As kComplete/kFail, with the result or error text in the client's result buffer
  // (ClientEntry::result_len bytes): the client waits for the record's commit before it
  // writes the buffer again.
  kCompleteResult = 9,
  kFailError = 10,
  // Cancels a job by id (slot | slot_gen << 32 hold the id); answered with a CancelAnswer.
  kCancel = 11,
  // Gives a leased job back without counting its attempt (Worker::Release): the worker could
  // not start it for a reason that is not the job's (a downstream outage).
  kRelease = 12,
};

// The daemon's answer to kCancel.
enum class CancelAnswer : uint32_t {
  kCancelled = 1,  // it was queued or delayed: it will never run
  kRequested = 2,  // it is running: its handler sees cancel_requested()
  kAlreadyFinished = 3,
  kNotFound = 4,  // no live job has this id (never enqueued, or finished and forgotten)
};

struct LaneRecord {
  uint32_t op;        // LaneOp
  uint32_t slot;      // job slot index (validated < capacity)
  uint32_t slot_gen;  // slot generation when the op was issued (fences stale ops)
  uint32_t attempt;   // lease token for kStart/kComplete/kFail
};
static_assert(sizeof(LaneRecord) == 16);
static_assert(offsetof(LaneRecord, op) == 0);
static_assert(offsetof(LaneRecord, slot) == 4);
static_assert(offsetof(LaneRecord, slot_gen) == 8);
static_assert(offsetof(LaneRecord, attempt) == 12);

// The daemon's answer to a record, written over the record's own cell before its commit is
// published; the client reads it once it sees the commit, before it pushes again (so only
// clients that wait for each record alone may read answers). op = kAnswered | the record's op,
// the 64-bit value split over slot (low) and slot_gen (high), attempt = AnswerFlag bits.
inline constexpr uint32_t kAnswered = 0x100;
enum AnswerFlag : uint32_t { kAnswerDuplicate = 1 };

inline LaneRecord MakeAnswer(LaneOp op, uint64_t value, uint32_t flags) {
  return LaneRecord{kAnswered | static_cast<uint32_t>(op), static_cast<uint32_t>(value),
                    static_cast<uint32_t>(value >> 32), flags};
}
inline uint64_t AnswerValue(const LaneRecord& r) {
  return (static_cast<uint64_t>(r.slot_gen) << 32) | r.slot;
}

class LaneView {
 public:
  LaneView() = default;
  LaneView(ClientEntry* entry, LaneRecord* records, uint32_t capacity)
      : e_(entry), recs_(records), cap_(capacity) {}

  // Client side. Returns the lane position of the record, or UINT64_MAX when full.
  [[nodiscard]] uint64_t TryPush(const LaneRecord& rec) {
    const uint64_t t = e_->tail.load(std::memory_order_relaxed);
    const uint64_t h = e_->head.load(std::memory_order_acquire);
    if (t - h >= cap_) return UINT64_MAX;
    recs_[t & (cap_ - 1)] = rec;
    e_->tail.store(t + 1, std::memory_order_release);
    return t;
  }
  [[nodiscard]] uint64_t Free() const {
    const uint64_t t = e_->tail.load(std::memory_order_relaxed);
    const uint64_t h = e_->head.load(std::memory_order_acquire);
    return cap_ - (t - h);
  }

  // Daemon side: records in [head, tail). `tail` comes from the client, so it is validated: a
  // lane claiming more than its capacity is corrupt and yields nothing.
  [[nodiscard]] bool Pending(uint64_t* head, uint64_t* tail) const {
    const uint64_t h = e_->head.load(std::memory_order_relaxed);
    const uint64_t t = e_->tail.load(std::memory_order_acquire);
    *head = h;
    *tail = t;
    return t >= h && t - h <= cap_;
  }
  [[nodiscard]] LaneRecord Read(uint64_t pos) const { return recs_[pos & (cap_ - 1)]; }
  // Daemon side: answers the record at `pos` (see kAnswered). Client side: reads it back.
  void Answer(uint64_t pos, const LaneRecord& answer) { recs_[pos & (cap_ - 1)] = answer; }
  void Consume(uint64_t new_head) { e_->head.store(new_head, std::memory_order_release); }

  ClientEntry* entry() const { return e_; }

 private:
  ClientEntry* e_ = nullptr;
  LaneRecord* recs_ = nullptr;
  uint32_t cap_ = 0;
};

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_LANE_H_
