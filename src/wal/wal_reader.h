// Recovery: replaying and verifying a WAL directory written by WalWriter.
//
// Damage is classified by where it is (rules in docs/wal_format.md):
//  - Torn tail: the last non-empty segment ends in an incomplete or checksum-failing region with
//    no complete valid record after it. The writer died mid-append; those bytes were never
//    acknowledged as durable. Not an error: reported, and cut off if truncate_torn_tail.
//  - Zero-filled space after the last record of a segment: a clean end.
//  - Anything else (damage followed by valid records, damage in an older segment, a record that
//    passes its checksum but does not decode, LSNs not strictly increasing): Corruption naming
//    "path:offset: reason", or, with salvage, a line in ReplayReport::problems and reading
//    resumes at the next block. Records that failed their checksum are never handed out.
#ifndef TASKRING_WAL_WAL_READER_H_
#define TASKRING_WAL_WAL_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/env.h"
#include "taskring/status.h"
#include "wal/wal_record.h"

namespace taskring::wal {

struct ReplayOptions {
  // Cut the last segment's torn tail (then fsync it) so later runs, and tools, see a clean file.
  bool truncate_torn_tail = true;
  // Skip mid-log corruption (listed in ReplayReport::problems) instead of failing. Loses the
  // damaged records, so only for an operator who accepts that.
  bool salvage = false;
  // Every file-system call goes through it. Not owned; must outlive the call.
  io::Env* env = io::Env::Default();
};

struct ReplayReport {
  uint64_t segments = 0;              // segment files found
  uint64_t records = 0;               // records handed to fn (or, for VerifyWal, found valid)
  uint64_t last_lsn = 0;              // LSN of the last such record; 0 if none
  uint64_t highest_segment = 0;       // number of the newest segment file; 0 if none
  uint64_t torn_tail_bytes = 0;       // bytes after the last valid record of the torn segment
  std::string torn_tail_file;         // path of that segment; empty if no torn tail
  std::vector<std::string> problems;  // "path:offset: what", one per corrupt region
  // While the callback runs: the number of the segment file the record was read from.
  uint64_t segment_in_progress = 0;
};

// Calls fn for each valid record in LSN order across all segments of dir (files sorted by
// number). A missing dir is NotFound; an empty dir is OK with 0 records. If fn returns an error,
// replay stops and returns it. The first record after a fn error is never delivered.
[[nodiscard]] Status ReplayWal(const std::string& dir, const ReplayOptions& options,
                               const std::function<Status(const WalRecord&)>& fn,
                               ReplayReport* report);

// The same walk, read-only: never truncates or writes. Returns Corruption naming the file and
// byte offset of the first corrupt record, or OK (a torn tail is OK and shows in *report).
[[nodiscard]] Status VerifyWal(const std::string& dir, ReplayReport* report,
                               io::Env* env = io::Env::Default());

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_READER_H_
