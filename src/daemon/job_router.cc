#include "daemon/job_router.h"

#include <algorithm>

#include "util/futex.h"

namespace taskring::daemon {

using segment::PackSlotWord;
using segment::SlotState;

JobRouter::JobRouter(const segment::Segment& seg, SlotHandoff& handoff)
    : seg_(seg),
      handoff_(handoff),
      type_of_(seg.params().capacity, 0),
      offered_mono_(seg.params().max_clients, 0) {}

bool JobRouter::StillQueued(uint64_t ref) const {
  const uint32_t slot = segment::RefSlot(ref);
  return seg_.ValidSlot(slot) &&
         seg_.slot(slot)->word.load(std::memory_order_acquire) ==
             PackSlotWord(segment::RefGen(ref), segment::kNoClient, SlotState::kQueued);
}

uint32_t JobRouter::PriorityOf(uint64_t ref) const {
  // Validated when the job was logged; clamped again since the header is shared memory.
  return std::min<uint32_t>(seg_.slot(segment::RefSlot(ref))->priority,
                            segment::kPriorityLevels - 1);
}

void JobRouter::Ready(uint64_t ref) {
  if (type_of_[segment::RefSlot(ref)] == 0) {
    handoff_.MarkReady(ref, PriorityOf(ref));
  } else {
    Hold(ref);
  }
}

void JobRouter::Hold(uint64_t ref, bool front) {
  TypeQueue& q = held_by_type_[type_of_[segment::RefSlot(ref)]];
  auto& d = q.by_priority[PriorityOf(ref)];
  if (front) {
    d.push_front(ref);
  } else {
    d.push_back(ref);
  }
  ++q.size;
  ++held_;
}

void JobRouter::RefreshWorkers() {
  const uint32_t epoch = seg_.header()->clients_epoch.load(std::memory_order_acquire);
  if (epoch == seen_epoch_) return;
  seen_epoch_ = epoch;
  const uint32_t any_before = any_type_workers_;
  declared_.clear();
  any_type_workers_ = 0;
  for (uint32_t c = 0; c < seg_.params().max_clients; ++c) {
    const segment::ClientEntry* e = seg_.client(c);
    if (segment::OwnerState(e->owner.load(std::memory_order_acquire)) !=
            segment::ClientState::kActive ||
        e->role.load(std::memory_order_relaxed) !=
            static_cast<uint32_t>(segment::ClientRole::kWorker)) {
      continue;
    }
    const uint32_t n = e->type_count.load(std::memory_order_acquire);
    if (n == 0) {
      ++any_type_workers_;
      continue;
    }
    Declared d{c, e->takes_untyped.load(std::memory_order_relaxed) != 0, {}};
    for (uint32_t i = 0; i < std::min<uint32_t>(n, 16); ++i) {
      d.types.push_back(e->type_hashes[i].load(std::memory_order_relaxed));
    }
    declared_.push_back(std::move(d));
  }
  if (any_before != 0 && any_type_workers_ == 0 && !declared_.empty()) {
    // Typed jobs sent to the rings for the any-type workers that are gone: back here, where
    // declaring workers can be offered them.
    RecallTypedFromRings();
  }
}

uint64_t JobRouter::RecallTypedFromRings() {
  std::vector<uint64_t> typed;  // oldest first
  const uint64_t n =
      handoff_.Recall([&](uint64_t ref) { return type_of_[segment::RefSlot(ref)] == 0; },
                      [&](uint64_t ref) { typed.push_back(ref); });
  // Back in front of what is held, in their order (they were handed out before it).
  for (auto it = typed.rbegin(); it != typed.rend(); ++it) Hold(*it, /*front=*/true);
  return n;
}

uint64_t JobRouter::TakeBackOffer(uint32_t client) {
  segment::ClientEntry* e = seg_.client(client);
  uint64_t ref = e->offer.load(std::memory_order_acquire);
  if (ref == 0 || !e->offer.compare_exchange_strong(ref, 0, std::memory_order_acq_rel)) return 0;
  // The worker can no longer take it (its CAS on the cell fails), so the job is ours again.
  if (!StillQueued(ref)) return ref;
  seg_.slot(segment::RefSlot(ref))->attempt.fetch_sub(1, std::memory_order_relaxed);
  Hold(ref, /*front=*/true);
  return ref;
}

uint64_t JobRouter::PickFor(const Declared& w) {
  for (uint32_t p = segment::kPriorityLevels; p-- > 0;) {
    for (const uint64_t t : w.types) {
      auto it = held_by_type_.find(t);
      if (it == held_by_type_.end()) continue;
      auto& d = it->second.by_priority[p];
      while (!d.empty()) {
        const uint64_t ref = d.front();
        d.pop_front();
        --it->second.size;
        --held_;
        if (StillQueued(ref)) return ref;
      }
    }
  }
  return 0;
}

void JobRouter::Dispatch(uint64_t now_mono_ns) {
  RefreshWorkers();
  for (const Declared& w : declared_) {
    segment::ClientEntry* e = seg_.client(w.client);
    if (e->want.load(std::memory_order_seq_cst) == 0 ||
        now_mono_ns - offered_mono_[w.client] >= kOfferTimeoutNs) {
      TakeBackOffer(w.client);  // it stopped waiting, or is not running to take it
    }
  }
  // Jobs of a type no declaring worker is there for go to the any-type workers' rings.
  waiting_undeclared_ = 0;
  for (auto& [type, q] : held_by_type_) {
    if (q.size == 0) continue;
    const uint64_t t = type;  // a structured binding cannot be captured (before C++20 in clang)
    const bool declared = std::any_of(declared_.begin(), declared_.end(), [t](const Declared& w) {
      return std::find(w.types.begin(), w.types.end(), t) != w.types.end();
    });
    if (declared) continue;
    if (any_type_workers_ == 0) {
      waiting_undeclared_ += q.size;
      continue;
    }
    for (uint32_t p = 0; p < segment::kPriorityLevels; ++p) {
      for (const uint64_t ref : q.by_priority[p]) {
        if (StillQueued(ref)) handoff_.MarkReady(ref, p);
      }
      held_ -= q.by_priority[p].size();
      q.by_priority[p].clear();
    }
    q.size = 0;
  }
  const bool paused = seg_.header()->paused.load(std::memory_order_relaxed) != 0;
  if (!paused) {
    for (const Declared& w : declared_) {
      segment::ClientEntry* e = seg_.client(w.client);
      if (e->want.load(std::memory_order_seq_cst) == 0 ||
          e->offer.load(std::memory_order_acquire) != 0) {
        continue;
      }
      const uint64_t ref = held_ == 0 ? 0 : PickFor(w);
      if (ref == 0) continue;
      // Counted as an attempt from here, as a ring push is.
      seg_.slot(segment::RefSlot(ref))->attempt.fetch_add(1, std::memory_order_relaxed);
      e->offer.store(ref, std::memory_order_seq_cst);
      offered_mono_[w.client] = now_mono_ns;
      e->offer_futex.fetch_add(1, std::memory_order_seq_cst);
      util::WakeIfSleepers(&e->offer_futex, &e->offer_sleepers, 1);
    }
  }
  if (!paused && handoff_.Dispatch(now_mono_ns) != 0) pushed_since_wake_ = true;
}

void JobRouter::WakeWorkers() {
  handoff_.WakeWorkers();
  if (!pushed_since_wake_) return;
  pushed_since_wake_ = false;
  // Declared workers that also take untyped jobs sleep on their own word, not the rings'.
  for (const Declared& w : declared_) {
    segment::ClientEntry* e = seg_.client(w.client);
    if (!w.takes_untyped || e->want.load(std::memory_order_seq_cst) == 0) continue;
    e->offer_futex.fetch_add(1, std::memory_order_seq_cst);
    util::WakeIfSleepers(&e->offer_futex, &e->offer_sleepers, 1);
  }
}

uint64_t JobRouter::Recall() {
  uint64_t n = RecallTypedFromRings();
  for (const Declared& w : declared_) {
    const uint64_t before = held_;
    TakeBackOffer(w.client);
    n += held_ - before;
  }
  return n;
}

void JobRouter::ReleaseWorker(uint32_t client) {
  segment::ClientEntry* e = seg_.client(client);
  const uint64_t taken_back = TakeBackOffer(client);
  // It cleared the offer cell but died before claiming the job: the job is still queued.
  const uint64_t taking = e->taking.exchange(0, std::memory_order_acq_rel);
  if (taking != 0 && taking != taken_back && StillQueued(taking)) {
    seg_.slot(segment::RefSlot(taking))->attempt.fetch_sub(1, std::memory_order_relaxed);
    Ready(taking);
  }
  e->want.store(0, std::memory_order_relaxed);
  e->type_count.store(0, std::memory_order_relaxed);
  e->takes_untyped.store(0, std::memory_order_relaxed);
  seen_epoch_ = UINT32_MAX;  // re-read declarations next step
}

}  // namespace taskring::daemon
