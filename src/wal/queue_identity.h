// The identity of the queue a WAL directory belongs to: DIR/IDENTITY, written on the first start
// and checked on every later one, so one queue's log is never served under another queue's name.
// Capacity, max payload and durability are recorded too: they may change across restarts (within
// what the WAL holds, which recovery checks); the daemon logs each change.
//
// File encoding (integers little-endian; spec in docs/wal_format.md):
//   magic "TRQUEID1" (8) | masked CRC32C of the body (4) | body length (4) | body
//   body: version (1) | durability (1) | capacity (4) | max_payload (4) | created_unix_ns (8) |
//         name_len (1) | name (name_len bytes, a valid queue name)
#ifndef TASKRING_WAL_QUEUE_IDENTITY_H_
#define TASKRING_WAL_QUEUE_IDENTITY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/env.h"
#include "taskring/status.h"

namespace taskring::wal {

struct QueueIdentity {
  std::string queue;
  uint32_t capacity = 0;
  uint32_t max_payload = 0;
  uint8_t durability = 0;  // segment::Durability
  uint64_t created_unix_ns = 0;

  friend bool operator==(const QueueIdentity&, const QueueIdentity&) = default;
};

inline constexpr const char* kIdentityFileName = "IDENTITY";

void EncodeQueueIdentity(const QueueIdentity& id, std::string* out);
// Corruption (with the reason) for a wrong magic, length, checksum, version, durability or
// name; never reads outside `in`.
[[nodiscard]] Status DecodeQueueIdentity(std::string_view in, QueueIdentity* out);

// NotFound when DIR has no identity file (a new directory, or one from before identities).
[[nodiscard]] Status ReadQueueIdentity(const std::string& dir, QueueIdentity* out,
                                       io::Env* env = io::Env::Default());
// Writes DIR/IDENTITY atomically and durably (temp file, fdatasync, rename, directory fsync). A
// failed directory sync is returned (the rule in io/env.h): the identity is then not known to be
// durable, and the caller must not start serving on it.
[[nodiscard]] Status WriteQueueIdentity(const std::string& dir, const QueueIdentity& id,
                                        int file_mode, io::Env* env = io::Env::Default());

// InvalidArgument when `wanted` names another queue than `recorded`; otherwise OK, with one
// line per changed parameter in *changes ("capacity 65536 -> 1024").
[[nodiscard]] Status CompareQueueIdentity(const QueueIdentity& recorded,
                                          const QueueIdentity& wanted, const std::string& dir,
                                          std::vector<std::string>* changes);

}  // namespace taskring::wal

#endif  // TASKRING_WAL_QUEUE_IDENTITY_H_
