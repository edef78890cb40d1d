#include "outcome/outcome_index.h"

#include <algorithm>

namespace taskring::outcome {

namespace {
// MurmurHash3's 64-bit finalizer: every bit of the input moves about half the bits of the
// result, so consecutive blocks of ids scatter over the table.
uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}
}  // namespace

uint32_t OutcomeIndex::EntryOf(uint64_t id, int window, uint32_t i) const {
  const uint64_t mask = n_ - 1;
  if (window == 0) return static_cast<uint32_t>((id + i) & mask);
  return static_cast<uint32_t>((Mix(id >> 6) + (id & 63) + i) & mask);
}

OutcomeIndex::OutcomeIndex(OutcomeIndexEntry* entries, uint32_t n) {
  if (entries == nullptr || n == 0 || (n & (n - 1)) != 0) return;
  entries_ = entries;
  n_ = n;
  window_ = std::min(kProbe, n);
}

uint64_t OutcomeIndex::Find(uint64_t id) const {
  if (entries_ == nullptr || id == 0) return 0;
  // A table no larger than a window has one window: the whole table.
  const int windows = window_ < n_ ? 2 : 1;
  for (int w = 0; w < windows; ++w) {
    bool empty_seen = false;
    for (uint32_t i = 0; i < window_; ++i) {
      const OutcomeIndexEntry& e = entries_[EntryOf(id, w, i)];
      const uint64_t eid = e.id.load(std::memory_order_acquire);
      if (eid != id) {
        empty_seen |= eid == 0;
        continue;
      }
      const uint64_t loc = e.loc.load(std::memory_order_acquire);
      // The acquire above keeps this load after it: a changed entry shows here as another id.
      if (e.id.load(std::memory_order_relaxed) != id) continue;
      return loc;
    }
    // The id goes to its second window only when the first has no empty entry (see the top of
    // the header). An entry read as empty may be one the writer is just changing (id := 0 for
    // a moment): a miss then is what a reader racing the writer may get anyway.
    if (empty_seen) return 0;
  }
  return 0;
}

uint64_t OutcomeIndex::Put(uint64_t id, uint64_t loc, uint32_t oldest_live_file,
                           uint64_t* displaced_loc, uint64_t* previous_loc) {
  if (displaced_loc != nullptr) *displaced_loc = 0;
  if (previous_loc != nullptr) *previous_loc = 0;
  if (entries_ == nullptr || id == 0 || loc == 0) return 0;
  const int windows = window_ < n_ ? 2 : 1;
  OutcomeIndexEntry* empty = nullptr;
  OutcomeIndexEntry* dead = nullptr;    // its file was deleted
  OutcomeIndexEntry* oldest = nullptr;  // of the live ones
  uint64_t oldest_loc = UINT64_MAX;
  // Relaxed loads: this thread is the only writer, so it reads back its own stores.
  for (int w = 0; w < windows && empty == nullptr; ++w) {
    for (uint32_t i = 0; i < window_; ++i) {
      OutcomeIndexEntry& e = entries_[EntryOf(id, w, i)];
      const uint64_t eid = e.id.load(std::memory_order_relaxed);
      if (eid == id) {
        if (previous_loc != nullptr) *previous_loc = e.loc.load(std::memory_order_relaxed);
        e.loc.store(loc, std::memory_order_release);
        return 0;
      }
      if (eid == 0) {
        // Entries never become empty again, so id is not further on (nor, when this is its
        // first window, in its second).
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
    // A full first window: the id may be in its second one, which must be read before a dead
    // entry of the first is taken (an id has one entry at most).
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
