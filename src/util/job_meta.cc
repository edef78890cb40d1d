#include "util/job_meta.h"

#include <string>

#include "taskring/options.h"

namespace taskring::util {

namespace {

bool IsTypeChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == ':';
}
bool IsHeaderNameChar(unsigned char c) { return IsTypeChar(c) && c != ':'; }
bool IsKeyChar(unsigned char c) { return c >= 0x21 && c <= 0x7e; }
bool IsHeaderValueChar(unsigned char c) { return c >= 0x20 && c != 0x7f; }

template <typename Pred>
bool All(std::string_view s, Pred pred) {
  for (const char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (s.size() > 80) out += "...";
  return out + "\"";
}

// A bounds-checked reader over the encoding.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t* v) {
    if (in_.size() < 2) return false;
    *v = static_cast<uint16_t>(static_cast<uint8_t>(in_[0]) |
                               (static_cast<uint16_t>(static_cast<uint8_t>(in_[1])) << 8));
    in_.remove_prefix(2);
    return true;
  }
  bool Bytes(size_t n, std::string* out) {
    if (in_.size() < n) return false;
    out->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

Status ValidateJobType(std::string_view type) {
  if (type.size() > kMaxTypeBytes) {
    return Status::InvalidArgument("job type of " + std::to_string(type.size()) +
                                   " bytes is longer than " + std::to_string(kMaxTypeBytes));
  }
  if (!All(type, IsTypeChar)) {
    return Status::InvalidArgument("job type " + Quoted(type) +
                                   " may contain only letters, digits and . _ - :");
  }
  return Status::OK();
}

Status ValidateIdempotencyKey(std::string_view key) {
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("idempotency key of " + std::to_string(key.size()) +
                                   " bytes is longer than " + std::to_string(kMaxKeyBytes));
  }
  if (!All(key, IsKeyChar)) {
    return Status::InvalidArgument("idempotency key " + Quoted(key) +
                                   " may contain only visible ASCII (no spaces or controls)");
  }
  return Status::OK();
}

Status ValidateJobHeader(std::string_view name, std::string_view value) {
  if (name.empty() || name.size() > kMaxHeaderNameBytes || !All(name, IsHeaderNameChar)) {
    return Status::InvalidArgument("header name " + Quoted(name) + " must be 1-" +
                                   std::to_string(kMaxHeaderNameBytes) +
                                   " letters, digits and . _ -");
  }
  if (value.size() > kMaxHeaderValueBytes || !All(value, IsHeaderValueChar)) {
    return Status::InvalidArgument("value of header " + Quoted(name) + " must be at most " +
                                   std::to_string(kMaxHeaderValueBytes) +
                                   " bytes without control characters");
  }
  return Status::OK();
}

Status EncodeJobMeta(const JobMeta& meta, std::string* out) {
  out->clear();
  if (meta.empty()) return Status::OK();
  Status s = ValidateJobType(meta.type);
  if (s.ok()) s = ValidateIdempotencyKey(meta.key);
  if (!s.ok()) return s;
  if (meta.headers.size() > kMaxHeaders) {
    return Status::InvalidArgument(std::to_string(meta.headers.size()) + " headers are more than " +
                                   std::to_string(kMaxHeaders));
  }
  for (const auto& [name, value] : meta.headers) {
    s = ValidateJobHeader(name, value);
    if (!s.ok()) return s;
  }
  out->push_back(static_cast<char>(meta.type.size()));
  out->append(meta.type);
  out->push_back(static_cast<char>(meta.key.size()));
  out->append(meta.key);
  out->push_back(static_cast<char>(meta.headers.size()));
  for (const auto& [name, value] : meta.headers) {
    out->push_back(static_cast<char>(name.size()));
    out->append(name);
    out->push_back(static_cast<char>(value.size() & 0xff));
    out->push_back(static_cast<char>(value.size() >> 8));
    out->append(value);
  }
  if (out->size() > kMaxJobMetaBytes) {
    const size_t n = out->size();
    out->clear();
    return Status::InvalidArgument("type, key and headers take " + std::to_string(n) +
                                   " bytes encoded, more than " + std::to_string(kMaxJobMetaBytes));
  }
  return Status::OK();
}

Status DecodeJobMeta(std::string_view in, JobMeta* out) {
  *out = JobMeta{};
  if (in.empty()) return Status::OK();
  if (in.size() > kMaxJobMetaBytes) {
    return Status::Corruption("job meta of " + std::to_string(in.size()) + " bytes is too long");
  }
  Reader r(in);
  uint8_t type_len = 0, key_len = 0, count = 0;
  if (!r.U8(&type_len) || !r.Bytes(type_len, &out->type) || !r.U8(&key_len) ||
      !r.Bytes(key_len, &out->key) || !r.U8(&count)) {
    return Status::Corruption("job meta is cut short");
  }
  if (count > kMaxHeaders) return Status::Corruption("job meta has too many headers");
  out->headers.resize(count);
  for (auto& [name, value] : out->headers) {
    uint8_t name_len = 0;
    uint16_t value_len = 0;
    if (!r.U8(&name_len) || !r.Bytes(name_len, &name) || !r.U16(&value_len) ||
        !r.Bytes(value_len, &value)) {
      return Status::Corruption("job meta is cut short in a header");
    }
  }
  if (!r.done()) return Status::Corruption("job meta has bytes after its last header");
  if (out->empty()) return Status::Corruption("job meta is present but empty");
  std::string again;
  Status s = EncodeJobMeta(*out, &again);
  if (!s.ok()) return Status::Corruption("job meta breaks a rule: " + std::string(s.message()));
  return Status::OK();
}

uint64_t JobTypeHash(std::string_view type) {
  if (type.empty()) return 0;
  uint64_t h = 1469598103934665603ULL;
  for (const char c : type) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h == 0 ? 1 : h;
}

}  // namespace taskring::util
