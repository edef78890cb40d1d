// The daemon's side of the hand-off: freed slots go back to producers through the free stack,
// ready jobs go to workers through the dispatch ring. Both are bounded and shared with other
// processes, so a push can fail; what does not fit waits here in order and is retried each step.
// A dispatch-ring cell that a worker claimed and then never released (it died or stopped
// mid-operation) is repaired after a timeout, and its job offered again if it is still unowned;
// a slot a producer popped from the free stack and died before claiming is offered again when
// the producer's entry is released (OfferIfUnclaimed). Owned by the engine thread.
#ifndef TASKRING_DAEMON_SLOT_HANDOFF_H_
#define TASKRING_DAEMON_SLOT_HANDOFF_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

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

  // Queues a job (a slot in state QUEUED) for the dispatch ring of `priority` (clamped).
  void MarkReady(uint64_t slot_ref, uint32_t priority) {
    ready_[std::min(priority, segment::kPriorityLevels - 1)].push_back(slot_ref);
  }
  // Pushes ready jobs to workers, highest priority first. Each pushed job's attempt counts from
  // here. Returns how many were pushed. Sleeping workers are woken by WakeWorkers(), which the
  // engine calls after it has told producers: a futex wake first would delay their answer.
  uint32_t Dispatch(uint64_t now_mono_ns);
  // Wakes as many sleeping workers as jobs were pushed since the last call.
  void WakeWorkers();
  // Takes back every job still in the dispatch rings (pause, re-routing): their attempts are
  // uncounted and they wait here again, in front, in their order. `keep` says which ones stay
  // with this class; the others (and those of the waiting ones it refuses) are handed to
  // `elsewhere`. Returns how many came back from the rings.
  template <typename Keep, typename Elsewhere>
  uint64_t Recall(Keep keep, Elsewhere elsewhere);

  size_t ready() const;
  size_t ready(uint32_t priority) const { return ready_[priority].size(); }
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
  // Pops what `ring` holds; true and the ref of a job still queued (attempt uncounted) in *ref.
  bool RecallOne(segment::RingView ring, uint64_t* ref);

  std::deque<uint64_t> ready_[segment::kPriorityLevels];  // waiting for room in their ring
  std::deque<uint64_t> free_backlog_;  // freed slot refs the free stack could not take yet
  StuckWatch dispatch_watch_[segment::kPriorityLevels];
  uint64_t unwoken_ = 0;  // jobs pushed since the last WakeWorkers
};

template <typename Keep, typename Elsewhere>
uint64_t SlotHandoff::Recall(Keep keep, Elsewhere elsewhere) {
  uint64_t n = 0;
  for (uint32_t p = 0; p < segment::kPriorityLevels; ++p) {
    std::vector<uint64_t> back;
    uint64_t ref = 0;
    while (RecallOne(seg_.dispatch_ring(p), &ref)) {
      if (keep(ref)) {
        back.push_back(ref);
      } else {
        elsewhere(ref);
      }
      ++n;
    }
    ready_[p].insert(ready_[p].begin(), back.begin(), back.end());
    // Those still waiting for room go the same way.
    std::deque<uint64_t> kept;
    for (const uint64_t r : ready_[p]) {
      if (keep(r)) {
        kept.push_back(r);
      } else {
        elsewhere(r);
      }
    }
    ready_[p].swap(kept);
  }
  return n;
}

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_SLOT_HANDOFF_H_
