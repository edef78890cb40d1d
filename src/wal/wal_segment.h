// Naming and listing of WAL segment files, shared by the writer and the reader.
#ifndef TASKRING_WAL_WAL_SEGMENT_H_
#define TASKRING_WAL_WAL_SEGMENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
[[nodiscard]] Status ListSegments(const std::string& dir, std::vector<SegmentFile>* out);

// "<what> <path>: <strerror(err)>", the shape of every OS error message in the WAL.
std::string OsErrorMessage(std::string_view what, const std::string& path, int err);

// fsyncs directory `dir`, so the names created or renamed in it are durable.
[[nodiscard]] Status SyncDir(const std::string& dir);

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_SEGMENT_H_
