// The daemon's side of the hand-off: freed slots go back to producers through the free stack,
// ready jobs go to workers through the dispatch ring. Both are bounded and shared with other
// processes, so a push can fail; what does not fit waits here in order and is retried each step.
// A dispatch-ring cell that a worker claimed and then never released (it died or stopped
// mid-operation) is repaired after a timeout, and its job offered again if it is still unowned;
// a slot a producer popped from the free stack and died before claiming is offered again when
// the producer's entry is released (OfferIfUnclaimed). Owned by the engine thread.
#ifndef TASKRING_DAEMON_SLOT_HANDOFF_H_
#define TASKRING_DAEMON_SLOT_HANDOFF_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "segment/segment.h"

namespace taskring::daemon {

class SlotHandoff {
 public:
  SlotHandoff(const segment::Segment& seg, uint64_t repair_ns) : seg_(seg), repair_ns_(repair_ns) {}

  // Marks `slot` free under a new generation and returns it to producers.
  void FreeSlot(uint32_t slot);
  // Pushes freed slots the free stack could not take yet.
  void FlushFree();
  // `ref` is the free slot a dead producer was popping: if it was never claimed, offers it again.
  // True if it did.
  bool OfferIfUnclaimed(uint64_t ref);

  // Queues a job (a slot in state QUEUED) for the dispatch ring.
  void MarkReady(uint64_t slot_ref) { ready_.push_back(slot_ref); }
  // Pushes ready jobs to workers and wakes sleeping ones. Each pushed job's attempt counts from
  // here. Returns how many were pushed.
  uint32_t Dispatch(uint64_t now_mono_ns);

  size_t ready() const { return ready_.size(); }
  size_t free_backlog() const { return free_backlog_.size(); }

  // What differs between the two rings when a cell is repaired.
  struct RingRole {
    const char* ring;            // for the log
    const char* claimer;         // who pops it
    segment::SlotState unowned;  // state of a slot nobody claimed yet
    const char* offered_again;   // log suffix when the slot is offered again
  };

 private:
  // Watches the tail cell of a ring that refuses pushes: true once the same cell has stayed
  // claimed-but-unreleased for the repair timeout, so its owner is dead or stopped, not merely
  // between two instructions.
  struct StuckWatch {
    uint64_t pos = UINT64_MAX;
    uint64_t since_mono_ns = 0;
  };
  bool RepairDue(segment::RingView ring, StuckWatch* watch, uint64_t now_mono_ns);
  // Releases the stuck tail cell of `ring` once due; true if it did. If the slot the cell held is
  // still unowned under the same generation, its claimer died before taking it: `*offer_again`
  // is set to its ref, for the caller to offer again.
  bool RepairStuckCell(segment::RingView ring, StuckWatch* watch, const RingRole& role,
                       uint64_t now_mono_ns, std::optional<uint64_t>* offer_again);

  const segment::Segment& seg_;
  uint64_t repair_ns_;
  std::deque<uint64_t> ready_;         // slot refs waiting for room in the dispatch ring
  std::deque<uint64_t> free_backlog_;  // freed slot refs the free stack could not take yet
  StuckWatch dispatch_watch_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_SLOT_HANDOFF_H_
