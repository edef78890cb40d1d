#include "wal/queue_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"
#include "wal/wal_segment.h"

namespace taskring::wal {
namespace {

constexpr char kMagic[8] = {'T', 'R', 'Q', 'U', 'E', 'I', 'D', '1'};
constexpr uint8_t kVersion = 1;
constexpr size_t kPrefixBytes = sizeof(kMagic) + 4 + 4;
constexpr size_t kBodyFixedBytes = 1 + 1 + 4 + 4 + 8 + 1;
constexpr size_t kMaxFileBytes = 4096;

// segment::Durability values; the WAL layer does not depend on the segment layer.
const char* DurabilityName(uint8_t d) {
  static constexpr const char* kNames[] = {"fsync", "interval", "none"};
  return d < 3 ? kNames[d] : "?";
}

// The rule of segment::ValidateQueueName: [A-Za-z0-9_.-]{1,63}, not starting with '.'.
bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 63 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void EncodeQueueIdentity(const QueueIdentity& id, std::string* out) {
  std::string body;
  body.push_back(static_cast<char>(kVersion));
  body.push_back(static_cast<char>(id.durability));
  util::PutFixed32(&body, id.capacity);
  util::PutFixed32(&body, id.max_payload);
  util::PutFixed64(&body, id.created_unix_ns);
  body.push_back(static_cast<char>(id.queue.size()));
  body.append(id.queue);
  out->append(kMagic, sizeof(kMagic));
  util::PutFixed32(out, util::crc32c::Mask(util::crc32c::Value(body.data(), body.size())));
  util::PutFixed32(out, static_cast<uint32_t>(body.size()));
  out->append(body);
}

Status DecodeQueueIdentity(std::string_view in, QueueIdentity* out) {
  if (in.size() < kPrefixBytes + kBodyFixedBytes) return Status::Corruption("identity: short");
  if (std::memcmp(in.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("identity: bad magic (not a taskring IDENTITY file)");
  }
  const uint32_t crc = util::crc32c::Unmask(util::DecodeFixed32(in.data() + 8));
  const uint32_t body_len = util::DecodeFixed32(in.data() + 12);
  const std::string_view body = in.substr(kPrefixBytes);
  if (body.size() != body_len) return Status::Corruption("identity: length mismatch");
  if (util::crc32c::Value(body.data(), body.size()) != crc) {
    return Status::Corruption("identity: checksum mismatch");
  }
  const char* p = body.data();
  if (static_cast<uint8_t>(p[0]) != kVersion) {
    return Status::Corruption("identity: unknown version " +
                              std::to_string(static_cast<uint8_t>(p[0])));
  }
  QueueIdentity id;
  id.durability = static_cast<uint8_t>(p[1]);
  if (id.durability > 2) {
    return Status::Corruption("identity: unknown durability");
  }
  id.capacity = util::DecodeFixed32(p + 2);
  id.max_payload = util::DecodeFixed32(p + 6);
  id.created_unix_ns = util::DecodeFixed64(p + 10);
  const size_t name_len = static_cast<uint8_t>(p[18]);
  if (name_len != body.size() - kBodyFixedBytes) return Status::Corruption("identity: bad name");
  id.queue.assign(p + kBodyFixedBytes, name_len);
  if (!ValidName(id.queue)) {
    return Status::Corruption("identity: invalid queue name");
  }
  *out = std::move(id);
  return Status::OK();
}

Status ReadQueueIdentity(const std::string& dir, QueueIdentity* out) {
  const std::string path = dir + "/" + kIdentityFileName;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no " + path);
    return Status::IOError(OsErrorMessage("cannot open", path, errno));
  }
  char buf[kMaxFileBytes];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  const int err = errno;
  ::close(fd);
  if (n < 0) return Status::IOError(OsErrorMessage("cannot read", path, err));
  Status s = DecodeQueueIdentity(std::string_view(buf, static_cast<size_t>(n)), out);
  if (!s.ok()) return Status::Corruption(path + ": " + std::string(s.message()));
  return Status::OK();
}

Status WriteQueueIdentity(const std::string& dir, const QueueIdentity& id, int file_mode) {
  std::string data;
  EncodeQueueIdentity(id, &data);
  const std::string path = dir + "/" + kIdentityFileName;
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        static_cast<mode_t>(file_mode));
  if (fd < 0) return Status::IOError(OsErrorMessage("cannot create", temp, errno));
  Status s;
  if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    s = Status::IOError(OsErrorMessage("cannot write", temp, errno));
  } else if (::fdatasync(fd) != 0) {
    s = Status::IOError(OsErrorMessage("cannot sync", temp, errno));
  }
  ::close(fd);
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    s = Status::IOError(OsErrorMessage("cannot rename to", path, errno));
  }
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return SyncDir(dir);
}

Status CompareQueueIdentity(const QueueIdentity& recorded, const QueueIdentity& wanted,
                            const std::string& dir, std::vector<std::string>* changes) {
  if (recorded.queue != wanted.queue) {
    return Status::InvalidArgument("WAL directory " + dir + " belongs to queue '" + recorded.queue +
                                   "', not '" + wanted.queue +
                                   "' (each queue needs its own --dir)");
  }
  changes->clear();
  auto note = [&](const char* what, const std::string& from, const std::string& to) {
    if (from != to) changes->push_back(std::string(what) + " " + from + " -> " + to);
  };
  note("capacity", std::to_string(recorded.capacity), std::to_string(wanted.capacity));
  note("max payload", std::to_string(recorded.max_payload), std::to_string(wanted.max_payload));
  note("durability", DurabilityName(recorded.durability), DurabilityName(wanted.durability));
  return Status::OK();
}

}  // namespace taskring::wal
