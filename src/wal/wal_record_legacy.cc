// Decoding of record versions 1 to 3 (fixed width, before issue 13's compact version 4): a WAL
// written by an older daemon still replays. They are never written.
#include "wal/wal_record_legacy.h"

#include <string>

#include "util/coding.h"
#include "util/job_meta.h"

namespace taskring::wal {

using util::DecodeFixed32;
using util::DecodeFixed64;

namespace {

bool CarriesTextV3(RecordType t) {
  return t == RecordType::kComplete || t == RecordType::kRetry || t == RecordType::kDead;
}

}  // namespace

Status DecodeLegacyRecord(std::string_view in, WalRecord* rec) {
  const char* p = in.data();
  const auto version = static_cast<uint8_t>(p[0]);
  const size_t fixed = version == 1   ? kRecordFixedSizeV1
                       : version == 2 ? kRecordFixedSizeV2
                                      : kRecordFixedSizeV3;
  if (in.size() < fixed) {
    return Status::Corruption("record of " + std::to_string(in.size()) +
                              " bytes is shorter than its fixed fields");
  }
  const auto type = static_cast<uint8_t>(p[1]);
  if (type < static_cast<uint8_t>(RecordType::kEnqueue) ||
      type > static_cast<uint8_t>(RecordType::kCancel) ||
      (version == 1 && type == static_cast<uint8_t>(RecordType::kCancel))) {
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
  static_assert(kRecordFixedSizeV1 == 2 + 48, "field offsets above must match the fixed size");
  uint32_t meta_len = 0;
  uint32_t text_len = 0;
  rec->timeout_ms = 0;
  rec->secret.fill(0);
  rec->event_unix_ns = 0;
  if (version == 1) {
    if (rec->type == RecordType::kEnqueue) rec->priority = kV1Priority;
  } else {
    rec->timeout_ms = DecodeFixed32(p + 48);
    meta_len =
        static_cast<uint8_t>(p[52]) | (static_cast<uint32_t>(static_cast<uint8_t>(p[53])) << 8);
  }
  if (version >= 3) {
    static_assert(kRecordFixedSizeV3 == 2 + 54 + 12 + 8 + 4);
    for (size_t i = 0; i < rec->secret.size(); ++i)
      rec->secret[i] = static_cast<uint8_t>(p[54 + i]);
    rec->event_unix_ns = DecodeFixed64(p + 66);
    text_len = DecodeFixed32(p + 74);
    // Fields a type does not use were written as zero.
    const bool is_enqueue = rec->type == RecordType::kEnqueue;
    bool secret_set = false;
    for (uint8_t b : rec->secret) secret_set |= b != 0;
    if ((!is_enqueue && secret_set) || (is_enqueue && rec->event_unix_ns != 0)) {
      return Status::Corruption(std::string("secret or event time on the wrong kind of record (") +
                                RecordTypeName(rec->type) + ")");
    }
  }
  const size_t available = in.size() - fixed;
  if (uint64_t{payload_len} + meta_len + text_len != available) {
    return Status::Corruption("payload length " + std::to_string(payload_len) + ", meta length " +
                              std::to_string(meta_len) + " and text length " +
                              std::to_string(text_len) + " do not match the " +
                              std::to_string(available) + " bytes present");
  }
  if (text_len > kMaxRecordTextBytes) {
    return Status::Corruption("text length " + std::to_string(text_len) + " exceeds the limit");
  }
  if (text_len != 0 && !CarriesTextV3(rec->type)) {
    return Status::Corruption(std::string("text on a ") + RecordTypeName(rec->type) + " record");
  }
  if (payload_len > kMaxPayloadBytes) {
    return Status::Corruption("payload length " + std::to_string(payload_len) +
                              " exceeds the limit");
  }
  if (meta_len > kMaxRecordMetaBytes) {
    return Status::Corruption("meta length " + std::to_string(meta_len) + " exceeds the limit");
  }
  if ((payload_len != 0 || meta_len != 0) && rec->type != RecordType::kEnqueue) {
    return Status::Corruption(std::string("payload on a ") + RecordTypeName(rec->type) + " record");
  }
  rec->payload.assign(in.data() + fixed, payload_len);
  rec->meta.assign(in.data() + fixed + payload_len, meta_len);
  rec->text.assign(in.data() + fixed + payload_len + meta_len, text_len);
  if (meta_len != 0) {
    util::JobMeta meta;
    Status s = util::DecodeJobMeta(rec->meta, &meta);
    if (!s.ok()) return s;
  }
  if (rec->type == RecordType::kEnqueue && rec->priority > 9) {
    return Status::Corruption("priority " + std::to_string(rec->priority) + " is out of range");
  }
  // As version 4 decodes: a field the type does not use reads zero, whatever was written there
  // (so a record reads the same after a re-log in version 4).
  if (rec->type != RecordType::kEnqueue) {
    rec->max_attempts = 0;
    rec->priority = 0;
    rec->enqueued_unix_ns = 0;
    rec->timeout_ms = 0;
    if (rec->type != RecordType::kRetry) rec->not_before_unix_ns = 0;
  }
  return Status::OK();
}

}  // namespace taskring::wal
