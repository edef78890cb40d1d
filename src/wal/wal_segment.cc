#include "wal/wal_segment.h"

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

Status ListSegments(const std::string& dir, std::vector<SegmentFile>* out, io::Env* env) {
  out->clear();
  std::vector<std::string> names;
  Status s = env->GetChildren(dir, &names);
  if (!s.ok()) return io::Annotate("cannot open WAL directory", s);
  for (const std::string& name : names) {
    uint64_t number;
    if (ParseSegmentFileName(name, &number)) out->push_back({number, SegmentPath(dir, number)});
  }
  std::sort(out->begin(), out->end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.number < b.number; });
  return Status::OK();
}

Status DeleteSegmentsBefore(io::Env* env, const std::string& dir, uint64_t before,
                            uint64_t* oldest) {
  Status result;
  for (; *oldest < before; ++*oldest) {
    Status s = env->RemoveFile(SegmentPath(dir, *oldest));
    if (!s.ok() && !s.IsNotFound()) {
      result = io::Annotate("cannot delete WAL segment", s);
      break;
    }
  }
  // A segment that came back after a host crash could hold records this WAL no longer expects.
  Status s = env->SyncDir(dir);
  if (result.ok() && !s.ok()) result = io::Annotate("cannot sync WAL directory", s);
  return result;
}

}  // namespace taskring::wal
