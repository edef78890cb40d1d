#include "outcome/outcome_index.h"

#include <algorithm>

namespace taskring::outcome {

OutcomeIndex::OutcomeIndex(OutcomeIndexEntry* entries, uint32_t n) {
  if (entries == nullptr || n == 0 || (n & (n - 1)) != 0) return;
  entries_ = entries;
  n_ = n;
  window_ = std::min(kProbe, n);
}

uint64_t OutcomeIndex::Find(uint64_t id) const {
  if (entries_ == nullptr || id == 0) return 0;
  const uint64_t mask = n_ - 1;
  for (uint32_t i = 0; i < window_; ++i) {
    const OutcomeIndexEntry& e = entries_[(id + i) & mask];
    if (e.id.load(std::memory_order_acquire) != id) continue;
    const uint64_t loc = e.loc.load(std::memory_order_acquire);
    // The acquire above keeps this load after it: a changed entry shows here as another id.
    if (e.id.load(std::memory_order_relaxed) != id) continue;
    return loc;
  }
  return 0;
}

uint64_t OutcomeIndex::Put(uint64_t id, uint64_t loc, uint32_t oldest_live_file,
                           uint64_t* displaced_loc) {
  if (displaced_loc != nullptr) *displaced_loc = 0;
  if (entries_ == nullptr || id == 0 || loc == 0) return 0;
  const uint64_t mask = n_ - 1;
  OutcomeIndexEntry* empty = nullptr;
  OutcomeIndexEntry* dead = nullptr;    // its file was deleted
  OutcomeIndexEntry* oldest = nullptr;  // of the live ones
  uint64_t oldest_loc = UINT64_MAX;
  // Relaxed loads: this thread is the only writer, so it reads back its own stores.
  for (uint32_t i = 0; i < window_; ++i) {
    OutcomeIndexEntry& e = entries_[(id + i) & mask];
    const uint64_t eid = e.id.load(std::memory_order_relaxed);
    if (eid == id) {
      e.loc.store(loc, std::memory_order_release);
      return 0;
    }
    if (eid == 0) {
      // Entries never become empty again (only Clear empties them), so id is not further on.
      empty = &e;
      break;
    }
    const uint64_t eloc = e.loc.load(std::memory_order_relaxed);
    if (LocFile(eloc) < oldest_live_file) {
      if (dead == nullptr) dead = &e;
    } else if (oldest == nullptr || eloc < oldest_loc) {
      oldest = &e;
      oldest_loc = eloc;
    }
  }
  OutcomeIndexEntry* target = empty != nullptr ? empty : dead != nullptr ? dead : oldest;
  uint64_t displaced = 0;
  if (target == oldest) {
    displaced = target->id.load(std::memory_order_relaxed);
    if (displaced_loc != nullptr) *displaced_loc = oldest_loc;
  }
  // See the top of the header: the id goes to 0 before the loc changes, so no reader pairs the
  // old id with the new loc.
  target->id.store(0, std::memory_order_relaxed);
  target->loc.store(loc, std::memory_order_release);
  target->id.store(id, std::memory_order_release);
  return displaced;
}

void OutcomeIndex::Clear() {
  for (uint32_t i = 0; i < n_; ++i) {
    entries_[i].id.store(0, std::memory_order_relaxed);
    entries_[i].loc.store(0, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_release);
}

}  // namespace taskring::outcome
