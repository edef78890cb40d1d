#include "wal/wal_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "wal/wal_format.h"

namespace taskring::wal {

std::string SegmentFileName(uint64_t number) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%020" PRIu64 "%s", kSegmentPrefix, number, kSegmentSuffix);
  return buf;
}

std::string SegmentPath(const std::string& dir, uint64_t number) {
  return dir + "/" + SegmentFileName(number);
}

bool ParseSegmentFileName(std::string_view name, uint64_t* number) {
  const std::string_view prefix(kSegmentPrefix);
  const std::string_view suffix(kSegmentSuffix);
  if (name.size() != prefix.size() + kSegmentDigits + suffix.size()) return false;
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return false;
  uint64_t value = 0;
  for (char c : name.substr(prefix.size(), kSegmentDigits)) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;  // 20 digits can overflow
    value = value * 10 + digit;
  }
  *number = value;
  return true;
}

Status ListSegments(const std::string& dir, std::vector<SegmentFile>* out) {
  out->clear();
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    const int err = errno;
    std::string msg = OsErrorMessage("cannot open WAL directory", dir, err);
    return err == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  errno = 0;
  while (const dirent* entry = readdir(d)) {
    uint64_t number;
    if (ParseSegmentFileName(entry->d_name, &number)) {
      out->push_back({number, SegmentPath(dir, number)});
    }
    errno = 0;
  }
  const int err = errno;
  closedir(d);
  if (err != 0) return Status::IOError(OsErrorMessage("cannot list WAL directory", dir, err));
  std::sort(out->begin(), out->end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.number < b.number; });
  return Status::OK();
}

std::string OsErrorMessage(std::string_view what, const std::string& path, int err) {
  std::string msg(what);
  msg += ' ';
  msg += path;
  msg += ": ";
  msg += std::strerror(err);
  return msg;
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(OsErrorMessage("cannot open", dir, errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError(OsErrorMessage("cannot sync", dir, err));
  return Status::OK();
}

}  // namespace taskring::wal
