#include "wal/key_file_format.h"

#include <cstdio>
#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"

namespace taskring::wal {
namespace {

constexpr size_t kMagicSize = sizeof(kKeyFileMagic) - 1;
constexpr size_t kVersionSize = sizeof(kKeyFileVersion) - 1;
static_assert(kMagicSize + kVersionSize == kKeyFileHeaderSize);
static_assert(kMaxKeyBytes <= 0xff, "a valid length has a zero high byte, see FindValidRecord");

uint16_t DecodeFixed16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               (static_cast<uint16_t>(static_cast<uint8_t>(p[1])) << 8));
}

bool VisibleAscii(char c) { return c >= 0x21 && c <= 0x7e; }

std::string At(uint64_t offset) { return "offset " + std::to_string(offset) + ": "; }

// One record at the start of `in`.
struct Decoded {
  enum class Kind {
    kRecord,   // complete and valid
    kDamaged,  // cut short or failing its checksum: a torn append, unless a valid record follows
    kInvalid,  // passes its checksum but breaks a field rule: never a torn append
  };
  Kind kind = Kind::kDamaged;
  size_t size = 0;  // kRecord: bytes it takes
  std::string reason;
};

Decoded DecodeRecordAt(std::string_view in, KeyRecord* rec) {
  Decoded d;
  if (in.size() < kKeyRecordHeaderSize) {
    d.reason = "truncated record header (" + std::to_string(in.size()) + " of " +
               std::to_string(kKeyRecordHeaderSize) + " bytes)";
    return d;
  }
  const char* p = in.data();
  const size_t len = DecodeFixed16(p + 4);
  if (in.size() < kKeyRecordHeaderSize + len) {
    d.reason = "truncated record (" + std::to_string(in.size() - kKeyRecordHeaderSize) + " of " +
               std::to_string(len) + " key bytes)";
    return d;
  }
  // The checksum is checked before the fields, so that a field rule broken by a torn write is
  // told apart from one a writer really broke.
  const uint32_t expected = util::crc32c::Unmask(util::DecodeFixed32(p));
  if (util::crc32c::Value(p + 4, kKeyRecordHeaderSize - 4 + len) != expected) {
    d.reason = "checksum mismatch";
    return d;
  }
  d.kind = Decoded::Kind::kInvalid;
  if (len < kMinKeyBytes || len > kMaxKeyBytes) {
    d.reason = "key length " + std::to_string(len) + " outside " + std::to_string(kMinKeyBytes) +
               ".." + std::to_string(kMaxKeyBytes);
    return d;
  }
  const uint64_t first_seen = util::DecodeFixed64(p + 6);
  const uint64_t job_id = util::DecodeFixed64(p + 14);
  if (job_id == 0) {
    d.reason = "job id 0";
    return d;
  }
  const std::string_view key(p + kKeyRecordHeaderSize, len);
  for (size_t i = 0; i < key.size(); ++i) {
    if (!VisibleAscii(key[i])) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x",
                    static_cast<unsigned>(static_cast<uint8_t>(key[i])));
      d.reason = "key byte " + std::to_string(i) + " is " + hex + ", outside 0x21..0x7e";
      return d;
    }
  }
  d.kind = Decoded::Kind::kRecord;
  d.size = kKeyRecordHeaderSize + len;
  rec->key.assign(key);
  rec->first_seen_unix_ns = first_seen;
  rec->job_id = job_id;
  return d;
}

// Offset of the first record after `from` whose checksum passes, or npos. Only lengths a valid
// record can have are tried, so a garbage tail costs a length check per byte, rarely a CRC.
size_t FindValidRecord(std::string_view file, size_t from) {
  for (size_t pos = from; pos + kKeyRecordHeaderSize < file.size(); ++pos) {
    const size_t len = DecodeFixed16(file.data() + pos + 4);
    if (len < kMinKeyBytes || len > kMaxKeyBytes) continue;
    if (file.size() - pos < kKeyRecordHeaderSize + len) continue;
    const uint32_t expected = util::crc32c::Unmask(util::DecodeFixed32(file.data() + pos));
    if (util::crc32c::Value(file.data() + pos + 4, kKeyRecordHeaderSize - 4 + len) == expected) {
      return pos;
    }
  }
  return std::string_view::npos;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The 8-byte header; `file` has at least that many bytes.
Status CheckHeader(std::string_view file) {
  if (std::memcmp(file.data(), kKeyFileMagic, kMagicSize) != 0 || !IsDigit(file[kMagicSize]) ||
      !IsDigit(file[kMagicSize + 1])) {
    return Status::Corruption("not a taskring key file (bad magic)");
  }
  const std::string_view version = file.substr(kMagicSize, kVersionSize);
  if (version != kKeyFileVersion) {
    return Status::Incompatible("key file format version " + std::string(version) +
                                ", this build reads version " + kKeyFileVersion);
  }
  return Status::OK();
}

}  // namespace

bool ValidIdempotencyKey(std::string_view key) {
  if (key.size() < kMinKeyBytes || key.size() > kMaxKeyBytes) return false;
  for (char c : key) {
    if (!VisibleAscii(c)) return false;
  }
  return true;
}

void EncodeKeyFileHeader(std::string* out) {
  out->append(kKeyFileMagic, kMagicSize);
  out->append(kKeyFileVersion, kVersionSize);
}

void EncodeKeyRecord(std::string_view key, uint64_t first_seen_unix_ns, uint64_t job_id,
                     std::string* out) {
  const size_t start = out->size();
  out->append(4, '\0');  // the CRC, filled in below
  out->push_back(static_cast<char>(key.size() & 0xff));
  out->push_back(static_cast<char>((key.size() >> 8) & 0xff));
  util::PutFixed64(out, first_seen_unix_ns);
  util::PutFixed64(out, job_id);
  out->append(key);
  const uint32_t crc = util::crc32c::Value(out->data() + start + 4, out->size() - start - 4);
  util::EncodeFixed32(out->data() + start, util::crc32c::Mask(crc));
}

Status ParseKeyFile(std::string_view file, KeyFileContents* out) {
  *out = KeyFileContents();
  if (file.size() < kKeyFileHeaderSize) {
    // A header cut short by a crash right after the file was created: torn, nothing in it.
    std::string header;
    EncodeKeyFileHeader(&header);
    if (header.compare(0, file.size(), file) != 0) {
      return Status::Corruption("not a taskring key file (bad magic)");
    }
    out->torn = !file.empty();
    return Status::OK();
  }
  Status s = CheckHeader(file);
  if (!s.ok()) return s;

  size_t pos = kKeyFileHeaderSize;
  while (pos < file.size()) {
    KeyRecord rec;
    const Decoded d = DecodeRecordAt(file.substr(pos), &rec);
    if (d.kind == Decoded::Kind::kInvalid) return Status::Corruption(At(pos) + d.reason);
    if (d.kind == Decoded::Kind::kDamaged) {
      const size_t next = FindValidRecord(file, pos + 1);
      if (next != std::string_view::npos) {
        return Status::Corruption(At(pos) + d.reason + ", and a valid record follows at offset " +
                                  std::to_string(next));
      }
      out->torn = true;
      break;
    }
    out->records.push_back(std::move(rec));
    pos += d.size;
  }
  out->valid_bytes = pos;
  return Status::OK();
}

}  // namespace taskring::wal
