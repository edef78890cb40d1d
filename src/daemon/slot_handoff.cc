#include "daemon/slot_handoff.h"

#include <climits>

#include "daemon/log.h"
#include "util/futex.h"

namespace taskring::daemon {

using segment::PackSlotWord;
using segment::SlotState;

namespace {
constexpr SlotHandoff::RingRole kDispatchRing{"dispatch-ring", "worker", SlotState::kQueued,
                                              "; its job is handed out again"};
}  // namespace

void SlotHandoff::FreeSlot(uint32_t slot) {
  segment::ResetSlotExtra(seg_.extra(slot));  // before a producer can take it
  segment::SlotHeader* h = seg_.slot(slot);
  const uint32_t gen = segment::SlotGen(h->word.load(std::memory_order_relaxed)) + 1;
  h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kFree), std::memory_order_release);
  free_backlog_.push_back(segment::PackSlotRef(slot, gen));
  FlushFree();
}

void SlotHandoff::FlushFree() {
  // The stack has a cell for every slot, so it is full only while it also holds references
  // offered twice (OfferIfUnclaimed); producers skip those as they pop, so retry next step.
  segment::FreeStackView stack = seg_.free_stack();
  while (!free_backlog_.empty() && stack.Push(free_backlog_.front())) free_backlog_.pop_front();
}

bool SlotHandoff::OfferIfUnclaimed(uint64_t ref) {
  const uint32_t slot = segment::RefSlot(ref);
  if (ref == 0 || !seg_.ValidSlot(slot)) return false;
  // Still free under the generation it was offered with: nobody claimed it. It is either still
  // in the stack (the producer died before its pop) or lost (after): offering it again covers
  // both, and a copy left over is skipped by the claim that fails.
  if (seg_.slot(slot)->word.load(std::memory_order_acquire) !=
      PackSlotWord(segment::RefGen(ref), segment::kNoClient, SlotState::kFree)) {
    return false;
  }
  free_backlog_.push_back(ref);
  FlushFree();
  return true;
}

uint32_t SlotHandoff::Dispatch(uint64_t now_mono_ns) {
  segment::SegmentHeader* hdr = seg_.header();
  uint32_t pushed = 0;
  for (uint32_t p = segment::kPriorityLevels; p-- > 0;) {
    std::deque<uint64_t>& ready = ready_[p];
    if (ready.empty()) continue;
    segment::RingView ring = seg_.dispatch_ring(p);
    // Workers scan only the rings marked in use; mark before the first push they must find.
    if ((hdr->priorities_in_use.load(std::memory_order_relaxed) & (1u << p)) == 0) {
      hdr->priorities_in_use.fetch_or(1u << p, std::memory_order_seq_cst);
    }
    while (!ready.empty()) {
      const uint64_t ref = ready.front();
      segment::SlotHeader* h = seg_.slot(segment::RefSlot(ref));
      if (h->word.load(std::memory_order_acquire) !=
          PackSlotWord(segment::RefGen(ref), segment::kNoClient, SlotState::kQueued)) {
        ready.pop_front();  // taken meanwhile (a repaired cell's consumer woke up): stale
        continue;
      }
      h->attempt.fetch_add(1, std::memory_order_relaxed);
      if (!ring.TryPush(ref)) {
        h->attempt.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
      ready.pop_front();
      ++pushed;
    }
    // Full, or a worker claimed the tail cell and never released it (RepairStuckTail tells the
    // two apart). If it died before leasing the job, the job is still queued: hand it out. Its
    // attempt was counted when it was first pushed and is counted again: the number may skip
    // one, which only errs towards dead-lettering sooner.
    std::optional<uint64_t> again;
    if (!ready.empty() &&
        RepairStuckCell(ring, &dispatch_watch_[p], kDispatchRing, now_mono_ns, &again) && again) {
      ready.push_back(*again);
    }
  }
  unwoken_ += pushed;
  return pushed;
}

void SlotHandoff::WakeWorkers() {
  if (unwoken_ == 0) return;
  segment::SegmentHeader* hdr = seg_.header();
  util::WakeIfSleepers(&hdr->dispatch_futex, &hdr->dispatch_sleepers,
                       unwoken_ > INT_MAX ? INT_MAX : static_cast<int>(unwoken_));
  unwoken_ = 0;
}

size_t SlotHandoff::ready() const {
  size_t n = 0;
  for (const auto& r : ready_) n += r.size();
  return n;
}

bool SlotHandoff::RecallOne(segment::RingView ring, uint64_t* ref) {
  for (;;) {
    uint64_t v = 0;
    if (!ring.TryPop(&v)) return false;
    const uint32_t slot = segment::RefSlot(v);
    if (!seg_.ValidSlot(slot)) continue;
    segment::SlotHeader* h = seg_.slot(slot);
    // Still queued and unowned: no worker can take it now that its cell is gone.
    if (h->word.load(std::memory_order_acquire) !=
        PackSlotWord(segment::RefGen(v), segment::kNoClient, SlotState::kQueued)) {
      continue;
    }
    h->attempt.fetch_sub(1, std::memory_order_relaxed);
    *ref = v;
    return true;
  }
}

bool SlotHandoff::RepairDue(segment::RingView ring, StuckWatch* watch, uint64_t now_mono_ns) {
  uint64_t pos = 0;
  if (!ring.TailClaimedButUnreleased(&pos)) {
    watch->pos = UINT64_MAX;
    return false;
  }
  if (watch->pos != pos) {
    watch->pos = pos;
    watch->since_mono_ns = now_mono_ns;
    return false;
  }
  if (now_mono_ns - watch->since_mono_ns < repair_ns_) return false;
  watch->pos = UINT64_MAX;
  return true;
}

bool SlotHandoff::RepairStuckCell(segment::RingView ring, StuckWatch* watch, const RingRole& role,
                                  uint64_t now_mono_ns, std::optional<uint64_t>* offer_again) {
  uint64_t taken = 0;
  if (!RepairDue(ring, watch, now_mono_ns) || !ring.RepairStuckTail(&taken)) return false;
  const uint32_t slot = segment::RefSlot(taken);
  const bool unclaimed = seg_.ValidSlot(slot) &&
                         seg_.slot(slot)->word.load(std::memory_order_acquire) ==
                             PackSlotWord(segment::RefGen(taken), segment::kNoClient, role.unowned);
  LogEvent("repaired a %s cell left claimed by a %s that stopped mid-operation%s", role.ring,
           role.claimer, unclaimed ? role.offered_again : "");
  if (unclaimed) *offer_again = taken;
  return true;
}

}  // namespace taskring::daemon
