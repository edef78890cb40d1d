// OutcomeStore: the daemon's writer of DIR/outcomes/ (issue 13), the outcome records of jobs
// that ended (completed, dead, cancelled) or whose attempt failed (retrying). Format:
// outcome/outcome_record.h; spec: docs/wal_format.md, "The outcome store".
//
// Why a store of its own: an outcome must outlive the WAL segment its job was logged in, for a
// TTL, within a byte bound, and be found by any client process in O(1). So records are
// appended to a few large numbered files (never a file per job: completion rates are high),
// and each is published in the shared-memory OutcomeIndex (outcome/outcome_index.h) once its
// bytes are in the file, never before: a reader never finds an index entry whose record is not
// there yet.
//
// Life of a record: Add() buffers it; Flush() appends the buffer with one Env write to the
// current file (rotating to a new file first when that would pass file_bytes) and then
// publishes; Sync() makes it durable. Until Sync() has succeeded the WAL's COMPLETE/RETRY/DEAD/
// CANCEL record is the outcome's durable copy, so the daemon calls Sync() before it deletes WAL
// segments, and on start re-adds the outcomes the store lacks (Latest() tells which).
// Expire() deletes whole files, oldest first: beyond max_bytes (their findable records count as
// evicted) or once their newest record finished more than ttl ago (expired).
//
// Failures (the rule in io/env.h: after a failed write or fdatasync a file's tail is not to be
// trusted):
//  - a failed write: the file is cut back to its last good size (best effort) and left; the
//    buffer is kept, nothing is published, and the next Flush() writes it to a new file;
//  - a failed fdatasync: Sync() returns the error; the file gets no more appends, and the next
//    Sync() reads back the records written to it since its last good fdatasync, copies those
//    the index still points at to the current file, makes that durable, then cuts the failed
//    file back. Records whose bytes no longer pass their checksums are lost and counted in
//    damaged_records();
//  - a failed directory sync: Sync() returns it until a later SyncDir() succeeds.
//
// Thread-safety: none; the engine thread owns the store. Every file call goes through the
// io::Env given to Open (not owned; must outlive the store), as does the index's memory.
#ifndef TASKRING_DAEMON_OUTCOME_STORE_H_
#define TASKRING_DAEMON_OUTCOME_STORE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/env.h"
#include "outcome/outcome_index.h"
#include "outcome/outcome_record.h"
#include "taskring/job.h"
#include "taskring/status.h"

namespace taskring::daemon {

struct OutcomeStoreOptions {
  // Total bytes of DIR/outcomes/*.out; the oldest whole files are deleted beyond it (the file
  // being written is never deleted, so the store can exceed it by up to that file's size).
  uint64_t max_bytes = 256ull << 20;
  // A file is deleted once its newest record finished more than this long ago.
  uint64_t ttl_ns = 24ull * 3600 * 1'000'000'000;
  // Files are rotated at this size. 0: clamp(max_bytes / 16, 64 KiB, 64 MiB), so about 16 files
  // share the bound and deleting one frees a sixteenth. Set values are clamped to
  // [kMinFileBytes, kMaxFileBytes].
  uint64_t file_bytes = 0;
  // Exact mode of the files (the daemon's: 0640 with --group); the directory gets 0700, or 0750
  // when the group may access the files (readers only read, as in DIR/dead).
  int file_mode = 0600;
};

class OutcomeStore {
 public:
  static constexpr uint64_t kMinFileBytes = 4 << 10;
  // Offsets in the index are 32-bit (outcome/outcome_index.h): a file, plus one buffer written
  // at its end, stays well below 4 GiB.
  static constexpr uint64_t kMaxFileBytes = 1ull << 30;
  // Add() refuses a record that would take the buffer past this (Flush() failing for long).
  static constexpr uint64_t kMaxBufferedBytes = 1ull << 30;

  // Creates wal_dir/outcomes if missing (and syncs wal_dir). Reads every data file in number
  // order and fills `index` (cleared first; the later record of a job wins), then applies the
  // TTL and the bound at now_unix_ns. What it finds wrong never stops it (outcomes are not
  // jobs; a queue must not stay down for them), and is in problems():
  //  - a torn tail of the newest file (a crash cut its last write) is cut off: truncated_bytes();
  //  - damage before the end of an older file: its records from there on are skipped and
  //    counted in damaged_records() (at least 1), the file kept as it is until it expires;
  //  - a file whose header is not this format's (foreign, or another version): skipped and left
  //    in place for a human, counted in skipped_files() (not in bytes()); new files are
  //    numbered past it, so it is never overwritten;
  //  - an empty file, or one holding only a header (or part of one): deleted.
  // InvalidArgument for a zero max_bytes or ttl_ns; IOError when the file system refuses.
  [[nodiscard]] static Status Open(io::Env* env, const std::string& wal_dir,
                                   const OutcomeStoreOptions& options, outcome::OutcomeIndex index,
                                   uint64_t now_unix_ns, std::unique_ptr<OutcomeStore>* out);

  OutcomeStore(const OutcomeStore&) = delete;
  OutcomeStore& operator=(const OutcomeStore&) = delete;
  // Closes the files; nothing is flushed or synced (the WAL still holds what was not).
  ~OutcomeStore();

  // Buffers one record. False, and nothing buffered, when it fails outcome::ValidateOutcome
  // (callers check sizes before) or the buffer is full (kMaxBufferedBytes).
  bool Add(const outcome::OutcomeRecord& rec);

  // Writes the buffered records to the current file with one Env write (a new file first when
  // there is none, or when the buffer would take the current one past file_bytes), then
  // publishes them in the index. On error (annotated, naming the file) nothing is published,
  // the buffer is kept, and the next call writes it to a new file.
  [[nodiscard]] Status Flush();

  // Flush()es, then fdatasyncs every file written since the last Sync (and those loaded at Open,
  // which a crashed daemon may have left in the page cache), then the directory when files were
  // created or deleted; first, the records of a file whose fdatasync failed are rewritten (see
  // the top of this file). OK: every record added so far is durable, or counted as lost.
  [[nodiscard]] Status Sync();

  // Deletes whole files, oldest first, while bytes() > max_bytes (their findable records count
  // as evicted) or while the oldest file's newest record finished more than ttl before
  // now_unix_ns (expired). Never the file being written. A deletion the file system refuses is
  // retried at the next call. Deletions are durable after the next Sync().
  void Expire(uint64_t now_unix_ns);

  // For recovery: state and attempt of job_id's latest flushed record, read through the index
  // (so not the buffered ones); false if there is none, or it cannot be read.
  bool Latest(uint64_t job_id, JobState* state, uint32_t* attempt) const;

  // Bytes and records in the data files not yet deleted (superseded records included).
  uint64_t bytes() const { return bytes_; }
  uint64_t records() const { return records_; }
  // Records written by Flush() since Open (re-written copies of salvaged records not counted).
  uint64_t stored() const { return stored_; }
  // Findable records dropped before their TTL: deleted by the byte bound, or displaced from the
  // index by other jobs' records (their bytes stay until their file goes).
  uint64_t evicted() const { return evicted_; }
  // Findable records dropped by the TTL.
  uint64_t expired() const { return expired_; }
  // Records lost to damage: skipped at Open, or failing their checksums when read back after a
  // failed fdatasync.
  uint64_t damaged_records() const { return damaged_records_; }
  // Bytes of the torn tail Open cut off the newest file.
  uint64_t truncated_bytes() const { return truncated_bytes_; }
  // Files Open left alone: not outcome files of this format version.
  uint64_t skipped_files() const { return skipped_files_; }
  // What Open found wrong, one line each, naming the file: for the daemon's log.
  const std::vector<std::string>& problems() const { return problems_; }

  size_t buffered() const { return pending_.size(); }  // records waiting for Flush()
  size_t files() const { return files_.size(); }
  uint64_t file_bytes() const { return file_bytes_; }  // the resolved rotation size
  const std::string& dir() const { return dir_; }

 private:
  struct File {
    uint64_t bytes = 0;           // its size: what the byte bound counts
    uint64_t synced = 0;          // bytes known durable (0 for files found at Open)
    uint64_t records = 0;         // valid records in it
    uint64_t synced_records = 0;  // of those, the ones in the first `synced` bytes
    uint64_t indexed = 0;  // of those, the ones the index finds (not superseded or displaced)
    uint64_t newest_finished_unix_ns = 0;
    bool unsynced = false;     // written (or found at Open) since its last good fdatasync
    bool sync_failed = false;  // its records past `synced` are to be rewritten by Sync()
    bool salvaged = false;     // they were: cut it back to `synced` once the copies are durable
    std::unique_ptr<io::WritableFile> writer;  // while written to or not yet synced
  };
  // A buffered record, published once its bytes are in a file.
  struct Pending {
    uint64_t job_id = 0;
    size_t offset = 0;  // in buffer_
    uint64_t finished_unix_ns = 0;
    // A copy made by Salvage(): its old location. Published only if the index still points
    // there (else a newer record of the job was written since, and must stay the latest).
    uint64_t moved_from = 0;
  };
  // The tail of a file read at Open, decided once it is known whether the file is the newest.
  struct Tail {
    uint32_t number = 0;
    uint64_t valid_end = 0;
    uint64_t size = 0;
    uint64_t damaged = 0;  // records with a checksum-valid head after valid_end
    std::string reason;
  };

  OutcomeStore(io::Env* env, std::string dir, const OutcomeStoreOptions& options,
               outcome::OutcomeIndex index);

  std::string PathOf(uint32_t number) const;
  uint32_t OldestLiveFile() const;
  Status Load(const std::string& wal_dir, uint64_t now_unix_ns);
  Status LoadFile(uint32_t number, std::vector<Tail>* tails);
  Status CutTornTail(const Tail& tail);
  Status CreateFile();
  // A write to the current file failed: cut it back and stop appending to it.
  void AbandonCurrent();
  // Sets job_id -> loc in the index, keeping the files' `indexed` counts and evicted_.
  void Publish(const Pending& p, uint64_t loc);
  void Unindexed(uint64_t loc);
  // Buffers copies of the records of a file whose fdatasync failed (see the top of this file).
  Status Salvage(uint32_t number);
  // Removes from the buffer the salvaged copies whose original file was deleted meanwhile.
  void DropCopiesOfDeletedFiles();
  // Deletes a data file and forgets it; its records leave bytes() and records().
  Status DeleteFile(std::map<uint32_t, File>::iterator it);

  io::Env* const env_;
  const std::string dir_;
  const uint64_t max_bytes_;
  const uint64_t ttl_ns_;
  const uint64_t file_bytes_;
  const int file_mode_;
  outcome::OutcomeIndex index_;

  std::map<uint32_t, File> files_;  // by number: the oldest first
  uint32_t current_ = 0;            // the file appended to; 0: none (the next Flush makes one)
  uint64_t next_number_ = 1;        // past every data file name seen
  bool dir_dirty_ = false;          // names created or removed since the last good SyncDir

  std::string buffer_;  // encoded records not yet written
  std::vector<Pending> pending_;

  uint64_t bytes_ = 0;
  uint64_t records_ = 0;
  uint64_t stored_ = 0;
  uint64_t evicted_ = 0;
  uint64_t expired_ = 0;
  uint64_t damaged_records_ = 0;
  uint64_t truncated_bytes_ = 0;
  uint64_t skipped_files_ = 0;
  std::vector<std::string> problems_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_OUTCOME_STORE_H_
