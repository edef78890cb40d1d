// Logical WAL records: what the daemon logs about a job, and their byte encoding.
//
// Encoding (all integers little-endian; spec in docs/wal_format.md), version 4: a common head
//   version (1) | type (1) | lsn (8) | job_id (8) | attempt (4)
// then only the fields the type uses:
//   ENQUEUE:  max_attempts (4) | priority (1) | enqueued_unix_ns (8) | not_before_unix_ns (8) |
//             timeout_ms (4) | payload_len (4) | meta_len (2) | secret (12) | payload | meta
//   START:    event_unix_ns (8)
//   RETRY:    event_unix_ns (8) | not_before_unix_ns (8) | text_len (4) | text
//   COMPLETE, DEAD, CANCEL: event_unix_ns (8) | text_len (4) | text
// Every record of a job is written at least once on the fast path, so each carries only what it
// uses: a plain job's three records take 129 bytes besides its payload (version 3: 240).
// Versions 1 to 3 were fixed width, every field on every record (wal_record_legacy.h); they are
// still read, so a WAL written before an upgrade recovers (version-1 jobs get the default
// priority, jobs before version 3 an all-zero token secret).
#ifndef TASKRING_WAL_WAL_RECORD_H_
#define TASKRING_WAL_WAL_RECORD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "taskring/status.h"

namespace taskring::wal {

// kStart is written when a worker takes a job, without forcing a sync: after a daemon crash it
// tells recovery which jobs were running, so their redelivery counts as a new attempt.
enum class RecordType : uint8_t {
  kEnqueue = 1,
  kComplete = 2,
  kRetry = 3,
  kDead = 4,
  kStart = 5,
  kCancel = 6,  // terminal: cancelled before it ran, or its handler gave up after a cancel request
};

struct WalRecord {
  RecordType type = RecordType::kEnqueue;
  uint64_t lsn = 0;  // assigned by the writer, strictly increasing across the whole WAL
  uint64_t job_id = 0;
  uint32_t attempt = 0;       // attempts already made (kRetry/kDead: that failed; kStart: begun)
  uint32_t max_attempts = 0;  // kEnqueue
  uint32_t priority = 0;      // kEnqueue: 0..9
  uint64_t enqueued_unix_ns = 0;     // kEnqueue
  uint64_t not_before_unix_ns = 0;   // kEnqueue/kRetry: earliest run time (0 = now)
  uint32_t timeout_ms = 0;           // kEnqueue: execution limit of an attempt (0 = none)
  std::string payload;               // kEnqueue only (arbitrary bytes, may be empty)
  std::string meta;                  // kEnqueue only: type, key, headers (segment/job_meta.h)
  std::array<uint8_t, 12> secret{};  // kEnqueue: the job's token secret (taskring/job.h)
  uint64_t event_unix_ns = 0;        // not kEnqueue: when it happened (started, finished)
  // kComplete: the result; kRetry/kDead: the failed attempt's error text; kCancel: what the
  // handler said when it gave up. Empty elsewhere.
  std::string text;

  friend bool operator==(const WalRecord&, const WalRecord&) = default;
};

// Version written by EncodeRecord; DecodeRecord also reads 1 to 3.
inline constexpr uint8_t kRecordFormatVersion = 4;
// Version 4: the common head, then each type's fixed fields (before payload, meta or text).
inline constexpr size_t kRecordHeadSize = 1 + 1 + 8 + 8 + 4;
inline constexpr size_t kEnqueueFixedSize = kRecordHeadSize + 4 + 1 + 8 + 8 + 4 + 4 + 2 + 12;
inline constexpr size_t kStartFixedSize = kRecordHeadSize + 8;
inline constexpr size_t kRetryFixedSize = kRecordHeadSize + 8 + 8 + 4;
inline constexpr size_t kOutcomeFixedSize = kRecordHeadSize + 8 + 4;  // COMPLETE, DEAD, CANCEL
// Size of everything before the payload bytes in versions 1, 2 and 3 (every type).
inline constexpr size_t kRecordFixedSizeV1 = 1 + 1 + 8 + 8 + 4 + 4 + 4 + 8 + 8 + 4;
inline constexpr size_t kRecordFixedSizeV2 = kRecordFixedSizeV1 + 4 + 2;
inline constexpr size_t kRecordFixedSizeV3 = kRecordFixedSizeV2 + 12 + 8 + 4;
// Largest text (a result) a record may carry: segment_header.h kMaxResult.
inline constexpr size_t kMaxRecordTextBytes = 16u << 20;
// Largest meta a record may carry (taskring/options.h kMaxJobMetaBytes).
inline constexpr size_t kMaxRecordMetaBytes = 1024;
// What a version-1 ENQUEUE record's job gets (taskring/options.h kDefaultPriority).
inline constexpr uint32_t kV1Priority = 5;
// Largest payload a record may carry; admission must reject larger ones before they reach the
// WAL, since DecodeRecord treats a larger length as corruption.
inline constexpr size_t kMaxPayloadBytes = 16u << 20;

// Appends the version-4 encoding of rec to *out. Only the fields rec's type uses are written
// (see above); the others are dropped, whatever rec holds.
// Preconditions: payload.size() <= kMaxPayloadBytes, meta.size() <= kMaxRecordMetaBytes,
// text.size() <= kMaxRecordTextBytes, priority <= 9 on kEnqueue.
void EncodeRecord(const WalRecord& rec, std::string* out);

// Parses exactly one record, of any version, from in (which must contain nothing else). Fields
// its type does not carry are zero or empty in *rec. Returns Corruption for an unknown version or
// type, lengths that do not match the buffer or exceed their limits, a priority over 9, or a
// meta that does not decode (util/job_meta.h). A version-4 record has one encoding: encoding
// what was decoded gives the same bytes. Never reads outside in. *rec is unspecified on error.
[[nodiscard]] Status DecodeRecord(std::string_view in, WalRecord* rec);

// "enqueue", "complete", "retry", "dead", "start", "cancel" or "unknown" (for logs and the WAL dump
// tool).
const char* RecordTypeName(RecordType type);

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_RECORD_H_
