// Naming and listing of WAL segment files, shared by the writer and the reader.
#ifndef TASKRING_WAL_WAL_SEGMENT_H_
#define TASKRING_WAL_WAL_SEGMENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/env.h"
#include "taskring/status.h"

namespace taskring::wal {

struct SegmentFile {
  uint64_t number = 0;
  std::string path;  // dir + "/" + file name
};

// "wal-00000000000000000007.log" for number 7.
std::string SegmentFileName(uint64_t number);

// dir + "/" + SegmentFileName(number).
std::string SegmentPath(const std::string& dir, uint64_t number);

// True and *number set when name is exactly a segment file name; other files are ignored, so a
// stray editor backup or "wal-1.log" never becomes part of the log.
bool ParseSegmentFileName(std::string_view name, uint64_t* number);

// Lists the segment files of dir sorted by number. NotFound when dir does not exist, IOError
// (naming the path and the OS reason) when it cannot be read.
[[nodiscard]] Status ListSegments(const std::string& dir, std::vector<SegmentFile>* out,
                                  io::Env* env = io::Env::Default());

// Retention: removes the segment files numbered *oldest .. before-1 of dir, oldest first, then
// syncs dir so the removals are durable. *oldest advances past each segment removed (or already
// absent) and is left on the first one that could not be removed, so a later call resumes there.
// Returns the first error, annotated ("cannot delete WAL segment <path>: <reason>", or "cannot
// sync WAL directory <dir>: <reason>"); the directory is synced even after a removal failed, so
// the removals that happened are made durable. A failed sync follows the rule in io/env.h: log
// it and call again at the next collection (a removal that is not durable can only bring an old,
// superseded segment back after a host crash, never lose a record).
[[nodiscard]] Status DeleteSegmentsBefore(io::Env* env, const std::string& dir, uint64_t before,
                                          uint64_t* oldest);

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_SEGMENT_H_
