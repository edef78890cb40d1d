#include "admission/admission.h"

namespace taskring::admission {

using segment::SlotState;

bool TryAcquireSlot(const segment::Segment& seg, uint32_t client, uint32_t* slot, uint32_t* gen) {
  segment::RingView ring = seg.free_ring();
  for (;;) {
    bool claimed = false;
    uint64_t ref = 0;
    const bool popped = ring.TryPopClaim(&ref, [&](uint64_t v) {
      const uint32_t s = segment::RefSlot(v);
      if (!seg.ValidSlot(s)) return;
      uint64_t expected =
          segment::PackSlotWord(segment::RefGen(v), segment::kNoClient, SlotState::kFree);
      claimed = seg.slot(s)->word.compare_exchange_strong(
          expected, segment::PackSlotWord(segment::RefGen(v), client, SlotState::kWriting),
          std::memory_order_acq_rel);
    });
    if (!popped) return false;
    if (claimed) {
      *slot = segment::RefSlot(ref);
      *gen = segment::RefGen(ref);
      return true;
    }
  }
}

uint32_t RetryAfterMs(uint64_t depth, uint64_t drain_rate_milli) {
  // With no completions measured yet (no workers), 100 ms: long enough for one to appear.
  if (drain_rate_milli == 0) return 100;
  const uint64_t ms = depth * 1'000'000ULL / drain_rate_milli;
  return static_cast<uint32_t>(ms < 1 ? 1 : (ms > 10'000 ? 10'000 : ms));
}

}  // namespace taskring::admission
