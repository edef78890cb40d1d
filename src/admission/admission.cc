#include "admission/admission.h"

namespace taskring::admission {

using segment::SlotState;

bool TryAcquireSlot(const segment::Segment& seg, uint32_t client, uint32_t* slot, uint32_t* gen) {
  segment::FreeStackView stack = seg.free_stack();
  std::atomic<uint64_t>* intent = &seg.client(client)->popping;
  uint64_t ref = 0;
  while (stack.Pop(intent, &ref)) {
    const uint32_t s = segment::RefSlot(ref);
    if (!seg.ValidSlot(s)) continue;  // a corrupt entry names no slot: skip it
    uint64_t expected =
        segment::PackSlotWord(segment::RefGen(ref), segment::kNoClient, SlotState::kFree);
    if (seg.slot(s)->word.compare_exchange_strong(
            expected, segment::PackSlotWord(segment::RefGen(ref), client, SlotState::kWriting),
            std::memory_order_acq_rel)) {
      *slot = s;
      *gen = segment::RefGen(ref);
      return true;
    }
  }
  return false;
}

uint32_t RetryAfterMs(uint64_t depth, uint64_t drain_rate_milli) {
  // With no completions measured yet (no workers), 100 ms: long enough for one to appear.
  if (drain_rate_milli == 0) return 100;
  const uint64_t ms = depth * 1'000'000ULL / drain_rate_milli;
  return static_cast<uint32_t>(ms < 1 ? 1 : (ms > 10'000 ? 10'000 : ms));
}

}  // namespace taskring::admission
