// Taking ownership of a job slot named by a ring entry: pop a (slot, generation) reference and
// CAS the slot's state word from (generation, no owner, `from`) to (generation, client, `to`)
// before the ring cell is released. Workers use it on the dispatch ring (QUEUED -> RUNNING).
// Entries are hints: a stale one fails the CAS and the next is tried, so one slot never gets two
// owners.
#ifndef TASKRING_SEGMENT_SLOT_CLAIM_H_
#define TASKRING_SEGMENT_SLOT_CLAIM_H_

#include <cstdint>

#include "segment/segment.h"

namespace taskring::segment {

// False when the ring holds no claimable entry.
[[nodiscard]] inline bool ClaimFromRing(const Segment& seg, RingView ring, SlotState from,
                                        uint32_t client, SlotState to, uint32_t* slot,
                                        uint32_t* gen) {
  for (;;) {
    bool claimed = false;
    uint64_t ref = 0;
    const bool popped = ring.TryPopClaim(&ref, [&](uint64_t v) {
      const uint32_t s = RefSlot(v);
      if (!seg.ValidSlot(s)) return;  // a corrupt entry names no slot: skip it
      uint64_t expected = PackSlotWord(RefGen(v), kNoClient, from);
      claimed = seg.slot(s)->word.compare_exchange_strong(
          expected, PackSlotWord(RefGen(v), client, to), std::memory_order_acq_rel);
    });
    if (!popped) return false;
    if (claimed) {
      *slot = RefSlot(ref);
      *gen = RefGen(ref);
      return true;
    }
  }
}

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_SLOT_CLAIM_H_
