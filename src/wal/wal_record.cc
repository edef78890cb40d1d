#include "wal/wal_record.h"

#include <string>

#include "util/coding.h"
#include "util/job_meta.h"
#include "wal/wal_record_legacy.h"

namespace taskring::wal {

using util::DecodeFixed32;
using util::DecodeFixed64;
using util::PutFixed32;
using util::PutFixed64;

namespace {

bool CarriesText(RecordType t) {
  return t == RecordType::kComplete || t == RecordType::kRetry || t == RecordType::kDead ||
         t == RecordType::kCancel;
}

size_t FixedSizeOf(RecordType t) {
  switch (t) {
    case RecordType::kEnqueue: return kEnqueueFixedSize;
    case RecordType::kStart: return kStartFixedSize;
    case RecordType::kRetry: return kRetryFixedSize;
    case RecordType::kComplete:
    case RecordType::kDead:
    case RecordType::kCancel: return kOutcomeFixedSize;
  }
  return 0;
}

uint16_t DecodeFixed16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 8));
}

Status DecodeEnqueueFields(std::string_view in, WalRecord* rec) {
  const char* p = in.data() + kRecordHeadSize;
  rec->max_attempts = DecodeFixed32(p);
  rec->priority = static_cast<uint8_t>(p[4]);
  rec->enqueued_unix_ns = DecodeFixed64(p + 5);
  rec->not_before_unix_ns = DecodeFixed64(p + 13);
  rec->timeout_ms = DecodeFixed32(p + 21);
  const uint32_t payload_len = DecodeFixed32(p + 25);
  const uint32_t meta_len = DecodeFixed16(p + 29);
  for (size_t i = 0; i < rec->secret.size(); ++i) rec->secret[i] = static_cast<uint8_t>(p[31 + i]);
  static_assert(kEnqueueFixedSize == kRecordHeadSize + 31 + 12, "offsets must match the size");
  if (rec->priority > 9) {
    return Status::Corruption("priority " + std::to_string(rec->priority) + " is out of range");
  }
  if (payload_len > kMaxPayloadBytes) {
    return Status::Corruption("payload length " + std::to_string(payload_len) +
                              " exceeds the limit");
  }
  if (meta_len > kMaxRecordMetaBytes) {
    return Status::Corruption("meta length " + std::to_string(meta_len) + " exceeds the limit");
  }
  const size_t available = in.size() - kEnqueueFixedSize;
  if (uint64_t{payload_len} + meta_len != available) {
    return Status::Corruption("payload length " + std::to_string(payload_len) +
                              " and meta length " + std::to_string(meta_len) +
                              " do not match the " + std::to_string(available) + " bytes present");
  }
  rec->payload.assign(in.data() + kEnqueueFixedSize, payload_len);
  rec->meta.assign(in.data() + kEnqueueFixedSize + payload_len, meta_len);
  if (meta_len != 0) {
    util::JobMeta meta;
    Status s = util::DecodeJobMeta(rec->meta, &meta);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status DecodeText(std::string_view in, size_t fixed, uint32_t text_len, WalRecord* rec) {
  if (text_len > kMaxRecordTextBytes) {
    return Status::Corruption("text length " + std::to_string(text_len) + " exceeds the limit");
  }
  if (text_len != in.size() - fixed) {
    return Status::Corruption("text length " + std::to_string(text_len) + " does not match the " +
                              std::to_string(in.size() - fixed) + " bytes present");
  }
  rec->text.assign(in.data() + fixed, text_len);
  return Status::OK();
}

}  // namespace

void EncodeRecord(const WalRecord& rec, std::string* out) {
  const size_t fixed = FixedSizeOf(rec.type);
  const bool is_enqueue = rec.type == RecordType::kEnqueue;
  const bool has_text = CarriesText(rec.type);
  out->reserve(out->size() + fixed + (is_enqueue ? rec.payload.size() + rec.meta.size() : 0) +
               (has_text ? rec.text.size() : 0));
  out->push_back(static_cast<char>(kRecordFormatVersion));
  out->push_back(static_cast<char>(rec.type));
  PutFixed64(out, rec.lsn);
  PutFixed64(out, rec.job_id);
  PutFixed32(out, rec.attempt);
  if (is_enqueue) {
    PutFixed32(out, rec.max_attempts);
    out->push_back(static_cast<char>(rec.priority));
    PutFixed64(out, rec.enqueued_unix_ns);
    PutFixed64(out, rec.not_before_unix_ns);
    PutFixed32(out, rec.timeout_ms);
    PutFixed32(out, static_cast<uint32_t>(rec.payload.size()));
    out->push_back(static_cast<char>(rec.meta.size() & 0xff));
    out->push_back(static_cast<char>(rec.meta.size() >> 8));
    out->append(reinterpret_cast<const char*>(rec.secret.data()), rec.secret.size());
    out->append(rec.payload);
    out->append(rec.meta);
    return;
  }
  PutFixed64(out, rec.event_unix_ns);
  if (rec.type == RecordType::kRetry) PutFixed64(out, rec.not_before_unix_ns);
  if (has_text) {
    PutFixed32(out, static_cast<uint32_t>(rec.text.size()));
    out->append(rec.text);
  }
}

Status DecodeRecord(std::string_view in, WalRecord* rec) {
  if (in.empty()) return Status::Corruption("empty record");
  const auto version = static_cast<uint8_t>(in[0]);
  if (version >= 1 && version < kRecordFormatVersion) return DecodeLegacyRecord(in, rec);
  if (version != kRecordFormatVersion) {
    return Status::Corruption("unknown record format version " + std::to_string(version));
  }
  if (in.size() < kRecordHeadSize) {
    return Status::Corruption("record of " + std::to_string(in.size()) +
                              " bytes is shorter than its head");
  }
  const auto type = static_cast<uint8_t>(in[1]);
  if (type < static_cast<uint8_t>(RecordType::kEnqueue) ||
      type > static_cast<uint8_t>(RecordType::kCancel)) {
    return Status::Corruption("unknown record type " + std::to_string(type));
  }
  *rec = WalRecord{};
  rec->type = static_cast<RecordType>(type);
  const size_t fixed = FixedSizeOf(rec->type);
  if (in.size() < fixed) {
    return Status::Corruption(std::string("a ") + RecordTypeName(rec->type) + " record of " +
                              std::to_string(in.size()) + " bytes is shorter than its fields");
  }
  const char* p = in.data();
  rec->lsn = DecodeFixed64(p + 2);
  rec->job_id = DecodeFixed64(p + 10);
  rec->attempt = DecodeFixed32(p + 18);
  static_assert(kRecordHeadSize == 22, "offsets above must match the head size");
  if (rec->type == RecordType::kEnqueue) return DecodeEnqueueFields(in, rec);
  rec->event_unix_ns = DecodeFixed64(p + kRecordHeadSize);
  if (rec->type == RecordType::kStart) {
    if (in.size() != kStartFixedSize) {
      return Status::Corruption("a start record of " + std::to_string(in.size()) + " bytes");
    }
    return Status::OK();
  }
  if (rec->type == RecordType::kRetry) {
    rec->not_before_unix_ns = DecodeFixed64(p + kRecordHeadSize + 8);
    return DecodeText(in, kRetryFixedSize, DecodeFixed32(p + kRecordHeadSize + 16), rec);
  }
  return DecodeText(in, kOutcomeFixedSize, DecodeFixed32(p + kRecordHeadSize + 8), rec);
}

const char* RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kEnqueue: return "enqueue";
    case RecordType::kComplete: return "complete";
    case RecordType::kRetry: return "retry";
    case RecordType::kDead: return "dead";
    case RecordType::kStart: return "start";
    case RecordType::kCancel: return "cancel";
  }
  return "unknown";
}

}  // namespace taskring::wal
