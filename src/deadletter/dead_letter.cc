#include "deadletter/dead_letter.h"

#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"
#include "util/job_meta.h"
#include "wal/wal_record.h"

namespace taskring::deadletter {
namespace {

constexpr char kMagic[8] = {'T', 'R', 'D', 'E', 'A', 'D', '0', '1'};
constexpr uint8_t kVersion = 2;
constexpr size_t kPrefixBytes = sizeof(kMagic) + 4 + 4;
constexpr size_t kBodyFixedBytesV1 = 1 + 1 + 8 + 4 + 4 + 8 + 8 + 4;
constexpr size_t kBodyFixedBytes = kBodyFixedBytesV1 + 1 + 4 + 2;

}  // namespace

const char* DeadReasonName(DeadReason reason) {
  switch (reason) {
    case DeadReason::kFailed: return "failed";
    case DeadReason::kLost: return "lost";
  }
  return "unknown";
}

void EncodeDeadLetter(const DeadLetter& letter, std::string* out) {
  std::string body;
  body.reserve(kBodyFixedBytes + letter.payload.size());
  body.push_back(static_cast<char>(kVersion));
  body.push_back(static_cast<char>(letter.reason));
  util::PutFixed64(&body, letter.job_id);
  util::PutFixed32(&body, letter.attempts);
  util::PutFixed32(&body, letter.max_attempts);
  util::PutFixed64(&body, letter.enqueued_unix_ns);
  util::PutFixed64(&body, letter.dead_unix_ns);
  util::PutFixed32(&body, static_cast<uint32_t>(letter.payload.size()));
  body.push_back(static_cast<char>(letter.priority));
  util::PutFixed32(&body, letter.timeout_ms);
  body.push_back(static_cast<char>(letter.meta.size() & 0xff));
  body.push_back(static_cast<char>(letter.meta.size() >> 8));
  body.append(letter.payload);
  body.append(letter.meta);
  out->append(kMagic, sizeof(kMagic));
  util::PutFixed32(out, util::crc32c::Mask(util::crc32c::Value(body.data(), body.size())));
  util::PutFixed32(out, static_cast<uint32_t>(body.size()));
  out->append(body);
}

Status DecodeDeadLetter(std::string_view in, DeadLetter* out) {
  if (in.size() < kPrefixBytes + kBodyFixedBytesV1) {
    return Status::Corruption("dead letter: short");
  }
  if (std::memcmp(in.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("dead letter: bad magic");
  }
  const uint32_t crc = util::crc32c::Unmask(util::DecodeFixed32(in.data() + 8));
  const uint32_t body_len = util::DecodeFixed32(in.data() + 12);
  const std::string_view body = in.substr(kPrefixBytes);
  if (body.size() != body_len) return Status::Corruption("dead letter: length mismatch");
  if (util::crc32c::Value(body.data(), body.size()) != crc) {
    return Status::Corruption("dead letter: checksum mismatch");
  }
  const char* p = body.data();
  const auto version = static_cast<uint8_t>(p[0]);
  if (version != 1 && version != kVersion) {
    return Status::Corruption("dead letter: unknown version " + std::to_string(version));
  }
  const size_t fixed = version == 1 ? kBodyFixedBytesV1 : kBodyFixedBytes;
  if (body.size() < fixed) return Status::Corruption("dead letter: short");
  const auto reason = static_cast<DeadReason>(p[1]);
  if (reason != DeadReason::kFailed && reason != DeadReason::kLost) {
    return Status::Corruption("dead letter: unknown reason");
  }
  DeadLetter d;
  d.reason = reason;
  d.job_id = util::DecodeFixed64(p + 2);
  d.attempts = util::DecodeFixed32(p + 10);
  d.max_attempts = util::DecodeFixed32(p + 14);
  d.enqueued_unix_ns = util::DecodeFixed64(p + 18);
  d.dead_unix_ns = util::DecodeFixed64(p + 26);
  const uint32_t payload_len = util::DecodeFixed32(p + 34);
  uint32_t meta_len = 0;
  if (version != 1) {
    d.priority = static_cast<uint8_t>(p[38]);
    d.timeout_ms = util::DecodeFixed32(p + 39);
    meta_len =
        static_cast<uint8_t>(p[43]) | (static_cast<uint32_t>(static_cast<uint8_t>(p[44])) << 8);
    if (d.priority > 9) return Status::Corruption("dead letter: priority out of range");
  }
  if (payload_len > wal::kMaxPayloadBytes || meta_len > wal::kMaxRecordMetaBytes ||
      uint64_t{payload_len} + meta_len != body.size() - fixed) {
    return Status::Corruption("dead letter: bad payload or meta length");
  }
  d.payload.assign(p + fixed, payload_len);
  d.meta.assign(p + fixed + payload_len, meta_len);
  util::JobMeta meta;
  if (!util::DecodeJobMeta(d.meta, &meta).ok()) return Status::Corruption("dead letter: bad meta");
  *out = std::move(d);
  return Status::OK();
}

}  // namespace taskring::deadletter
