#include "wal/queue_identity.h"

#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"

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

Status ReadQueueIdentity(const std::string& dir, QueueIdentity* out, io::Env* env) {
  const std::string path = io::JoinPath(dir, kIdentityFileName);
  io::ReadableFileOptions ropts;
  ropts.no_follow = true;
  std::string data;
  // A bigger file is read to kMaxFileBytes and then fails to decode (its length is wrong).
  Status s = io::ReadFileToString(env, path, &data, ropts, kMaxFileBytes);
  if (s.IsNotFound()) return Status::NotFound("no " + path);
  if (!s.ok()) return io::Annotate("cannot read", s);
  s = DecodeQueueIdentity(data, out);
  if (!s.ok()) return Status::Corruption(path + ": " + std::string(s.message()));
  return Status::OK();
}

Status WriteQueueIdentity(const std::string& dir, const QueueIdentity& id, int file_mode,
                          io::Env* env) {
  std::string data;
  EncodeQueueIdentity(id, &data);
  const std::string path = io::JoinPath(dir, kIdentityFileName);
  const std::string temp = path + ".tmp";
  io::WritableFileOptions wopts;
  wopts.mode = file_mode;
  std::unique_ptr<io::WritableFile> file;
  Status s = env->NewWritableFile(temp, wopts, &file);
  if (!s.ok()) return io::Annotate("cannot create", s);
  s = io::Annotate("cannot write", file->Write(0, data));
  if (s.ok()) s = io::Annotate("cannot sync", file->DataSync());
  (void)file->Close();
  file.reset();
  if (s.ok()) s = io::Annotate("cannot rename to", env->RenameFile(temp, path));
  if (!s.ok()) {
    (void)env->RemoveFile(temp);
    return s;
  }
  return io::Annotate("cannot sync", env->SyncDir(dir));
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
