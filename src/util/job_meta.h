// What a job carries besides its payload and fixed fields: type, idempotency key and headers.
// One encoding serves the slot's meta area in shared memory and the ENQUEUE record in the WAL,
// so a job moves between them byte for byte. Plain jobs have none: zero bytes, no cost.
//
// Encoding (lengths are byte counts; u16 little-endian):
//   u8 type_len | type | u8 key_len | key | u8 header_count |
//   header_count x (u8 name_len | name | u16 value_len | value)
// Every reader (daemon, worker, WAL replay) decodes with DecodeJobMeta, which checks every
// length against the buffer and every byte against the rules below: the bytes come from shared
// memory or disk, which any process or a crash may have scribbled on.
#ifndef TASKRING_UTIL_JOB_META_H_
#define TASKRING_UTIL_JOB_META_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskring/status.h"

namespace taskring::util {

struct JobMeta {
  std::string type;  // "" = untyped
  std::string key;   // "" = no idempotency key
  std::vector<std::pair<std::string, std::string>> headers;

  bool empty() const { return type.empty() && key.empty() && headers.empty(); }
  friend bool operator==(const JobMeta&, const JobMeta&) = default;
};

// Each returns InvalidArgument with a message naming the rule broken (limits in
// taskring/options.h). The empty type and key are valid (they mean "none").
[[nodiscard]] Status ValidateJobType(std::string_view type);
[[nodiscard]] Status ValidateIdempotencyKey(std::string_view key);
[[nodiscard]] Status ValidateJobHeader(std::string_view name, std::string_view value);

// Validates `meta` and replaces *out with its encoding ("" for an empty one). InvalidArgument if
// a field breaks a rule or the encoding exceeds kMaxJobMetaBytes.
[[nodiscard]] Status EncodeJobMeta(const JobMeta& meta, std::string* out);
// Parses exactly `in` ("" is the empty meta). Corruption for anything EncodeJobMeta would not
// have written. Never reads outside `in`.
[[nodiscard]] Status DecodeJobMeta(std::string_view in, JobMeta* out);

// A 64-bit hash of a type name (FNV-1a), 0 only for "": what workers declare and the daemon
// routes by. Two names sharing a hash would share workers; at 64 bits that is not a concern
// for the handful of types a queue has.
uint64_t JobTypeHash(std::string_view type);

}  // namespace taskring::util

#endif  // TASKRING_UTIL_JOB_META_H_
