#include "wal/wal_record.h"

#include <string>

#include "util/coding.h"

namespace taskring::wal {

using util::DecodeFixed32;
using util::DecodeFixed64;
using util::PutFixed32;
using util::PutFixed64;

void EncodeRecord(const WalRecord& rec, std::string* out) {
  const bool has_payload = rec.type == RecordType::kEnqueue;
  const size_t payload_len = has_payload ? rec.payload.size() : 0;
  out->reserve(out->size() + kRecordFixedSize + payload_len);
  out->push_back(static_cast<char>(kRecordFormatVersion));
  out->push_back(static_cast<char>(rec.type));
  PutFixed64(out, rec.lsn);
  PutFixed64(out, rec.job_id);
  PutFixed32(out, rec.attempt);
  PutFixed32(out, rec.max_attempts);
  PutFixed32(out, rec.priority);
  PutFixed64(out, rec.enqueued_unix_ns);
  PutFixed64(out, rec.not_before_unix_ns);
  PutFixed32(out, static_cast<uint32_t>(payload_len));
  if (has_payload) out->append(rec.payload);
}

Status DecodeRecord(std::string_view in, WalRecord* rec) {
  if (in.size() < kRecordFixedSize) {
    return Status::Corruption("record of " + std::to_string(in.size()) +
                              " bytes is shorter than its fixed fields");
  }
  const char* p = in.data();
  const auto version = static_cast<uint8_t>(p[0]);
  if (version != kRecordFormatVersion) {
    return Status::Corruption("unknown record format version " + std::to_string(version));
  }
  const auto type = static_cast<uint8_t>(p[1]);
  if (type < static_cast<uint8_t>(RecordType::kEnqueue) ||
      type > static_cast<uint8_t>(RecordType::kStart)) {
    return Status::Corruption("unknown record type " + std::to_string(type));
  }
  rec->type = static_cast<RecordType>(type);
  p += 2;
  rec->lsn = DecodeFixed64(p);
  rec->job_id = DecodeFixed64(p + 8);
  rec->attempt = DecodeFixed32(p + 16);
  rec->max_attempts = DecodeFixed32(p + 20);
  rec->priority = DecodeFixed32(p + 24);
  rec->enqueued_unix_ns = DecodeFixed64(p + 28);
  rec->not_before_unix_ns = DecodeFixed64(p + 36);
  const uint32_t payload_len = DecodeFixed32(p + 44);
  static_assert(kRecordFixedSize == 2 + 48, "field offsets above must match kRecordFixedSize");

  const size_t available = in.size() - kRecordFixedSize;
  if (payload_len != available) {
    return Status::Corruption("payload length " + std::to_string(payload_len) +
                              " does not match the " + std::to_string(available) +
                              " bytes present");
  }
  if (payload_len > kMaxPayloadBytes) {
    return Status::Corruption("payload length " + std::to_string(payload_len) +
                              " exceeds the limit");
  }
  if (payload_len != 0 && rec->type != RecordType::kEnqueue) {
    return Status::Corruption(std::string("payload on a ") + RecordTypeName(rec->type) + " record");
  }
  rec->payload.assign(in.data() + kRecordFixedSize, payload_len);
  return Status::OK();
}

const char* RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kEnqueue: return "enqueue";
    case RecordType::kComplete: return "complete";
    case RecordType::kRetry: return "retry";
    case RecordType::kDead: return "dead";
    case RecordType::kStart: return "start";
  }
  return "unknown";
}

}  // namespace taskring::wal
