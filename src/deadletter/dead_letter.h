// A dead letter: a job that used up its attempts, kept with its payload until an operator
// requeues or purges it (`taskring dead ...`).
//
// File encoding (integers little-endian; spec in docs/wal_format.md):
//   magic "TRDEAD01" (8) | masked CRC32C of the body (4) | body length (4) | body
//   body: version (1) | reason (1) | job_id (8) | attempts (4) | max_attempts (4) |
//         enqueued_unix_ns (8) | dead_unix_ns (8) | payload_len (4) |
//         priority (1) | timeout_ms (4) | meta_len (2) | payload | meta        (version 2)
// Version 1 (before job meta) ends after payload_len with the payload; it is still read (its
// letters get the default priority, no timeout, no meta).
#ifndef TASKRING_DEADLETTER_DEAD_LETTER_H_
#define TASKRING_DEADLETTER_DEAD_LETTER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "taskring/status.h"

namespace taskring::deadletter {

enum class DeadReason : uint8_t {
  kFailed = 1,  // its handler reported failure on the last attempt
  kLost = 2,    // its last run ended without an outcome (worker died, lease expired)
};

struct DeadLetter {
  uint64_t job_id = 0;
  uint32_t attempts = 0;
  uint32_t max_attempts = 0;
  uint64_t enqueued_unix_ns = 0;
  uint64_t dead_unix_ns = 0;
  DeadReason reason = DeadReason::kFailed;
  uint8_t priority = 5;     // taskring/options.h kDefaultPriority
  uint32_t timeout_ms = 0;  // 0 = none
  std::string payload;
  std::string meta;  // type, idempotency key, headers (util/job_meta.h)

  friend bool operator==(const DeadLetter&, const DeadLetter&) = default;
};

// "failed" or "lost" ("unknown" for anything else).
const char* DeadReasonName(DeadReason reason);

// Appends the file encoding of `letter` to *out. Precondition: payload <= wal::kMaxPayloadBytes.
void EncodeDeadLetter(const DeadLetter& letter, std::string* out);

// Parses a whole file. Corruption (with the reason) for a wrong magic, length, checksum,
// version, reason, priority, payload or meta length, or a meta that does not decode; never reads
// outside `in`.
[[nodiscard]] Status DecodeDeadLetter(std::string_view in, DeadLetter* out);

}  // namespace taskring::deadletter

#endif  // TASKRING_DEADLETTER_DEAD_LETTER_H_
