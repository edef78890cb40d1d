// OutcomeIndex: job id -> where its latest outcome record is (file number, offset), in shared
// memory, so any client process finds a record with one probe window and one or two preads.
//
// An open-addressing table of 16-byte entries (a power of two of them). An id has two windows
// of kProbe consecutive entries each, wrapping: the first from id & (n - 1); the second from a
// hash of the id's block of 64 consecutive ids, plus its place in the block. Consecutive ids
// thus share most of both windows' cache lines, so a busy queue whose windows are all full (the
// steady state once the table has filled: every Put evicts) pays about one cache miss per Put,
// not one per entry, while the blocks still scatter over the table.
// Ids come in runs of consecutive numbers, so within one daemon's life the first windows spread
// them perfectly (n ids fit n entries). But each daemon start draws ids from the clock
// (daemon/engine.cc), and the run of a later start can fall on the same entries modulo n: its
// first windows are full of the earlier run's entries, however empty the table, and the second
// window takes it (its blocks spread out, so a dense block of other runs' entries fills it only
// when the table itself is nearly full). An id goes to its second window only when
// its first has no empty entry; entries never become empty again (only Clear empties them), so
// a first window with an empty entry means the id is there or nowhere.
// It forgets rather than grows: when an id finds no room in either window, the entry with the
// oldest location (lowest file, then offset: the earliest written) of the two is taken over,
// and the store counts that outcome as evicted.
//
// One writer (the daemon's OutcomeStore, on one thread) and any number of readers, in any
// process, lock-free. An entry is published so that a reader never pairs an id with another
// id's location:
//   writer, new id in an entry:  id := 0; loc := new (release); id := new (release)
//   writer, same id, newer loc:  loc := new (release)
//   reader: a := id (acquire); l := loc (acquire); b := id; only a == b == wanted counts.
// If the reader's loc load saw the writer's new loc, the release/acquire pair makes its second
// id load see the 0 (or the new id) stored before it, so an old id is never matched with a new
// loc. What a reader may still get: a miss while an entry changes, or the previous record of the
// same id. Entries live in shared memory any process may scribble on, so readers check the
// record they read (its id and checksums) anyway; a stale or garbage location is harmless.
//
// Location: file number (high 32 bits) | byte offset in the file (low 32 bits). 0 is "empty";
// a real location is never 0, since records start after the 8-byte file header.
// (32 bits of file number: files are never reused, and at the smallest file size a busy queue
// rotates hundreds of files a second, which would exhaust 24 bits in hours. An offset stays
// below 2^32 because the store rotates files at 1 GiB at most.)
#ifndef TASKRING_OUTCOME_OUTCOME_INDEX_H_
#define TASKRING_OUTCOME_OUTCOME_INDEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace taskring::outcome {

struct OutcomeIndexEntry {
  std::atomic<uint64_t> id;   // 0: empty
  std::atomic<uint64_t> loc;  // PackOutcomeLoc; 0: empty
};
static_assert(sizeof(OutcomeIndexEntry) == 16);
static_assert(offsetof(OutcomeIndexEntry, id) == 0);
static_assert(offsetof(OutcomeIndexEntry, loc) == 8);
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared between processes");

inline constexpr uint64_t kMaxOutcomeOffset = UINT32_MAX;

// file >= 1 (or offset > 0): the result is never 0.
inline uint64_t PackOutcomeLoc(uint32_t file, uint64_t offset) {
  return (static_cast<uint64_t>(file) << 32) | (offset & kMaxOutcomeOffset);
}
inline uint32_t LocFile(uint64_t loc) { return static_cast<uint32_t>(loc >> 32); }
inline uint64_t LocOffset(uint64_t loc) { return loc & kMaxOutcomeOffset; }

// Bytes of an index of n entries, for whoever lays out the shared memory.
inline constexpr size_t OutcomeIndexBytes(uint32_t n) {
  return size_t{n} * sizeof(OutcomeIndexEntry);
}

// A view over entries the caller maps (and keeps mapped while the view is used); copyable.
// Thread-safety: Find from any thread or process; Put and Clear from one writer only.
class OutcomeIndex {
 public:
  static constexpr uint32_t kProbe = 16;  // entries of each window, wrapping

  OutcomeIndex() = default;  // invalid: Find finds nothing, Put does nothing
  // n must be a power of two (else the view is invalid).
  OutcomeIndex(OutcomeIndexEntry* entries, uint32_t n);

  bool valid() const { return entries_ != nullptr; }
  uint32_t size() const { return n_; }

  // The location of id's latest record, or 0. Lock-free; see the top of this file for what a
  // reader racing the writer may see.
  uint64_t Find(uint64_t id) const;

  // Writer: sets id -> loc (id and loc non-zero; else nothing happens and 0 is returned). Takes,
  // in this order: id's own entry; an empty one of the first window; one whose file is below
  // oldest_live_file (its record was deleted) in the first window; then the same in the second
  // window; else the entry with the oldest location in both. Returns the id whose entry was
  // taken while its file was still live (0 if none), so the store can count its outcome as
  // evicted, and its location in *displaced_loc (when not null). *previous_loc (when not null)
  // is id's own location before this Put, or 0: what Find(id) would have said, without a second
  // pass over the windows.
  uint64_t Put(uint64_t id, uint64_t loc, uint32_t oldest_live_file,
               uint64_t* displaced_loc = nullptr, uint64_t* previous_loc = nullptr);

  // The i-th entry (i < kProbe) of id's first (window 0) or second (window 1) window.
  uint32_t EntryOf(uint64_t id, int window, uint32_t i) const;

  // Writer, before filling it (at start): every entry empty.
  void Clear();

 private:
  OutcomeIndexEntry* entries_ = nullptr;
  uint32_t n_ = 0;
  uint32_t window_ = 0;  // min(kProbe, n)
};

}  // namespace taskring::outcome

#endif  // TASKRING_OUTCOME_OUTCOME_INDEX_H_
