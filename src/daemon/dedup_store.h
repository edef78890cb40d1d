// DedupStore: the idempotency keys of one queue's dedup window (issue 12), in memory and in
// DIR/keys (format: wal/key_file_format.h).
//
// Why a file of its own: a key is also in its job's ENQUEUE record, but WAL segments are deleted
// once no live job needs them, and a key must be remembered for the whole window (default 24 h),
// across restarts and crashes. So the engine calls Persist() before it deletes any WAL segment;
// on start the daemon opens the store, then Add()s the keys of the ENQUEUE records it replays.
//
// A key is live while now < first_seen + window, and at most max_keys are kept (the oldest by
// first_seen go first, counted in evicted()). Find() never answers an expired key, even before
// Expire() has dropped it.
//
// The file: Add() only changes memory; Persist() appends the keys added since the last Persist()
// and fdatasyncs, or, once the file holds more than twice the live keys (+ kCompactionSlack
// records), rewrites it whole (temp file, fdatasync, rename, directory sync). After any failed
// Persist() nothing new counts as persisted, and the next one rewrites the file whole, since
// after a failed write or fdatasync the file's tail is not to be trusted (io/env.h).
//
// Thread-safety: none; the engine thread owns the store. Every file call goes through the
// io::Env given to Open (not owned; must outlive the store).
#ifndef TASKRING_DAEMON_DEDUP_STORE_H_
#define TASKRING_DAEMON_DEDUP_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "io/env.h"
#include "taskring/status.h"

namespace taskring::daemon {

class DedupStore {
 public:
  // Records the file may hold beyond twice the live keys before Persist() compacts it.
  static constexpr uint64_t kCompactionSlack = 4096;

  // Opens wal_dir/keys, creating it (with file_mode, exactly: 0600 unless the daemon's --group
  // asks for more) when it does not exist. Loads it: the later record of a key wins, expired
  // keys are dropped, the oldest beyond max_keys are evicted; a torn tail is cut off (see
  // truncated_bytes()). InvalidArgument for a zero window or max_keys; Corruption or
  // Incompatible, naming the file, for a file that is damaged before its end or is not a key
  // file of this version (left in place for a human); IOError when the file system refuses.
  [[nodiscard]] static Status Open(io::Env* env, const std::string& wal_dir, uint64_t window_ns,
                                   size_t max_keys, uint64_t now_unix_ns, int file_mode,
                                   std::unique_ptr<DedupStore>* out);

  DedupStore(const DedupStore&) = delete;
  DedupStore& operator=(const DedupStore&) = delete;
  ~DedupStore();

  // The first job's id for a live key; nullopt for an unknown or expired one.
  [[nodiscard]] std::optional<uint64_t> Find(std::string_view key, uint64_t now_unix_ns) const;

  // Remembers key -> job_id as first seen at first_seen_unix_ns, unless the key is live at that
  // time: then it keeps its first job id and false is returned. An expired entry of the key is
  // replaced. Then evicts the oldest keys beyond max_keys. False, and nothing stored, for a key
  // that fails wal::ValidIdempotencyKey or job id 0 (callers refuse those before).
  bool Add(std::string_view key, uint64_t job_id, uint64_t first_seen_unix_ns);

  // At start, for each key found in the WAL's ENQUEUE records (in log order): as Add, except
  // that a later job (higher id) for a key already present replaces it, since the key was
  // forgotten and used again after the file recorded it. False if nothing changed.
  bool AddFromLog(std::string_view key, uint64_t job_id, uint64_t first_seen_unix_ns);

  // Drops the keys expired at now_unix_ns. Costs nothing when none is due.
  void Expire(uint64_t now_unix_ns);

  // Makes every live key durable in the file (see the top of this file). On error (annotated,
  // naming the file) nothing new is marked persisted and dirty() stays true: call it again; the
  // WAL segments holding the keys must not be deleted until it has succeeded.
  [[nodiscard]] Status Persist();

  // Persist() has work to do: keys added since the last successful one, or a rewrite after a
  // failed one.
  bool dirty() const { return !unpersisted_.empty() || rewrite_needed_; }
  // Live keys (and expired ones Expire() has not dropped yet).
  size_t size() const { return entries_.size(); }
  // Keys dropped because max_keys was reached, since Open (Open's own evictions included).
  uint64_t evicted() const { return evicted_; }
  // Bytes of a torn tail Open() cut off the file (0 when it ended cleanly); for the log.
  uint64_t truncated_bytes() const { return truncated_bytes_; }
  // Records in the file now (live, expired, superseded): what compaction bounds.
  uint64_t file_records() const { return file_records_; }
  const std::string& path() const { return path_; }

 private:
  struct Entry {
    uint64_t job_id = 0;
    uint64_t first_seen_unix_ns = 0;
  };
  // Lookups by string_view, without building a std::string per call.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  using Entries = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;

  DedupStore(io::Env* env, std::string dir, uint64_t window_ns, size_t max_keys, int file_mode);

  bool Expired(const Entry& e, uint64_t now_unix_ns) const;
  void Insert(std::string_view key, const Entry& e);
  void Erase(Entries::iterator it);
  void EvictOverflow();
  // Loads the file (see Open). Sets rewrite_needed_ when it has no complete header.
  Status Load(uint64_t now_unix_ns);
  Status Append();
  Status Rewrite();

  io::Env* const env_;
  const std::string dir_;
  const std::string path_;
  const uint64_t window_ns_;
  const size_t max_keys_;
  const int file_mode_;

  Entries entries_;
  // (first_seen, key) of every entry, oldest first: expiry and eviction take from the front.
  // The views point into entries_' keys (node-based: stable until erased).
  std::set<std::pair<uint64_t, std::string_view>> by_age_;
  // Keys in entries_ that are not in the file yet.
  std::unordered_set<std::string, KeyHash, std::equal_to<>> unpersisted_;

  std::unique_ptr<io::WritableFile> file_;  // open for appends; null until rewritten
  uint64_t file_bytes_ = 0;                 // end of the last durable append
  uint64_t file_records_ = 0;
  bool rewrite_needed_ = false;
  uint64_t evicted_ = 0;
  uint64_t truncated_bytes_ = 0;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_DEDUP_STORE_H_
