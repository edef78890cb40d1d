// WalWriter: appends records to the WAL directory, one segment file at a time.
//
// Not thread-safe: one owner (the daemon's WAL thread) calls every method. Add() only encodes
// into memory; Flush() hands the bytes to the kernel; Sync() makes them durable. Group commit is
// the caller's loop: Add many, Flush once, Sync once, then publish next_lsn() - 1 as durable.
//
// Failure model:
//  - A failed write (ENOSPC, EIO ...) keeps every buffered byte and cuts the file back to the
//    last fully written offset, so the caller may retry Flush() once space is freed.
//  - A failed fdatasync is sticky (and so is a failed sync of the directory after creating a
//    segment, the rule in io/env.h): after it the kernel may have dropped the dirty pages and
//    report the next fsync as a success, so retrying could claim durability that does not exist.
//    Every later Flush()/Sync() returns the same error; the owner must discard this writer, open a
//    new one (it starts a new segment) and re-log what was not known to be durable.
#ifndef TASKRING_WAL_WAL_WRITER_H_
#define TASKRING_WAL_WAL_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "io/env.h"
#include "taskring/status.h"
#include "wal/wal_record.h"

namespace taskring::wal {

struct WalWriterOptions {
  // Start a new segment once the current one reaches this size (checked between records, so a
  // segment can exceed it by one record). Smaller segments can be deleted sooner once their jobs
  // are terminal, at the cost of more files and one extra fdatasync per rotation.
  uint64_t segment_bytes = 64 << 20;
  // Mode of new segment files, applied exactly (not filtered by the umask). 0640 lets a group
  // (e.g. an ops tool) read the WAL.
  int file_mode = 0600;
  // Every file-system call goes through it (tests pass a MemEnv or FaultInjectionEnv). Not
  // owned; must outlive the writer. One virtual call per Flush chunk and per Sync: no copy.
  io::Env* env = io::Env::Default();
  // Zero-fill each segment this far ahead of the records, so a record overwrites bytes the file
  // already has: its fdatasync then flushes data only, not the file's new size as well (on ext4
  // here: p50 147 us against 207 us for an append). 0: append.
  uint64_t prewrite_bytes = 1 << 20;
};

class WalWriter {
 public:
  // Opens dir, which must exist and be writable (otherwise IOError naming the path and the OS
  // reason). Always starts a NEW segment numbered after the highest existing one: an old segment
  // may end in a torn record, and appending after it would bury that damage mid-log. The
  // directory is fsynced after creating the file so the file survives a host crash.
  // next_lsn is the LSN Add() assigns first (usually ReplayReport::last_lsn + 1). Run ReplayWal
  // (which cuts a torn tail) before opening: once a newer segment exists, an old torn tail is
  // reported as corruption.
  [[nodiscard]] static Status Open(const std::string& dir, const WalWriterOptions& options,
                                   uint64_t next_lsn, std::unique_ptr<WalWriter>* out);

  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;
  // Closes the segment. Bytes not yet flushed are dropped; nothing is synced.
  ~WalWriter();

  // Sets rec.lsn to the next LSN, encodes rec into the in-memory buffer and returns the LSN. No
  // system call. Precondition: rec.payload.size() <= kMaxPayloadBytes.
  uint64_t Add(WalRecord& rec);

  // Writes every buffered byte to the current segment, rotating to a new segment (after syncing
  // the old one) where Add() decided a record boundary should start one. IOError on failure,
  // with the buffer kept for a retry.
  [[nodiscard]] Status Flush();

  // fdatasyncs the current segment; call after Flush(). IOError on failure (sticky, see above).
  [[nodiscard]] Status Sync();

  // Pipelined group commit: the owner may run the current segment's DataSync() on another
  // thread while it keeps calling Add() and Flush(), as long as no rotation is pending (Flush
  // would close the file) and it reports the result with SyncFinished() before anything else
  // closes or replaces the file. Only bytes flushed before that DataSync() began are covered.
  io::WritableFile* current_file() const { return file_.get(); }
  bool rotation_pending() const;
  // The result of a DataSync() of current_file() run by the owner: counted, or sticky on error.
  void SyncFinished(const Status& s);

  uint64_t next_lsn() const { return next_lsn_; }
  // Bytes handed to the kernel by successful writes, over the writer's life.
  uint64_t bytes_written() const { return bytes_written_; }
  // Successful fdatasync calls (explicit and at rotation).
  uint64_t syncs() const { return syncs_; }
  // Number of the segment file writes currently go to.
  uint64_t current_segment() const { return segment_number_; }
  // Number of the segment the last Add()ed record will be written to (ahead of
  // current_segment() when a rotation is pending in the buffer).
  uint64_t tail_segment() const { return tail_segment_; }
  size_t buffered_bytes() const { return buffered_bytes_; }
  // True once an fdatasync failed: this writer is unusable (see the failure model above).
  bool sync_failed() const { return !sync_error_.ok(); }

 private:
  // Bytes bound for one segment; new_segment means "rotate before writing them".
  struct Chunk {
    bool new_segment = false;
    std::string bytes;
  };

  WalWriter(std::string dir, const WalWriterOptions& options, uint64_t next_lsn);

  Status OpenSegment(uint64_t number);
  Status SyncFile();
  Status WriteChunk(const std::string& bytes);
  void AppendFragments(const char* data, size_t n);

  const std::string dir_;
  const WalWriterOptions options_;
  io::Env* const env_;
  std::unique_ptr<io::WritableFile> file_;  // the current segment
  std::string path_;                        // of the current segment
  uint64_t segment_number_ = 0;             // of the current segment
  uint64_t tail_segment_ = 0;               // of the last Add()ed record
  uint64_t file_size_ = 0;                  // bytes of the current segment known to be written
  uint64_t prewritten_end_ = 0;             // the segment is zero-filled up to here

  std::deque<Chunk> pending_;
  size_t buffered_bytes_ = 0;
  // Size the segment of the last pending chunk will have once everything is written; fragment
  // layout depends on the position inside the block, so Add() tracks it.
  uint64_t tail_segment_size_ = 0;
  std::string scratch_;

  uint64_t next_lsn_;
  uint64_t bytes_written_ = 0;
  uint64_t syncs_ = 0;
  Status sync_error_;  // sticky, see the class comment
};

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_WRITER_H_
