#include "admission/admission.h"

#include "segment/slot_claim.h"

namespace taskring::admission {

using segment::SlotState;

bool TryAcquireSlot(const segment::Segment& seg, uint32_t client, uint32_t* slot, uint32_t* gen) {
  return segment::ClaimFromRing(seg, seg.free_ring(), SlotState::kFree, client, SlotState::kWriting,
                                slot, gen);
}

uint32_t RetryAfterMs(uint64_t depth, uint64_t drain_rate_milli) {
  // With no completions measured yet (no workers), 100 ms: long enough for one to appear.
  if (drain_rate_milli == 0) return 100;
  const uint64_t ms = depth * 1'000'000ULL / drain_rate_milli;
  return static_cast<uint32_t>(ms < 1 ? 1 : (ms > 10'000 ? 10'000 : ms));
}

}  // namespace taskring::admission
