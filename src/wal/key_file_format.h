// The key file, DIR/keys: the idempotency keys of a queue's dedup window, kept apart from the WAL
// because a key must outlive the WAL segment its job was logged in (spec: docs/wal_format.md,
// "The key file"). This header is the format and a parser of a whole file's bytes; the store
// that reads, appends and compacts it is daemon/dedup_store.h.
//
// Layout (integers little-endian):
//
//   +-----------------------------+
//   | "TRKEYS" (6) | version (2)  |   file header: version is two ASCII digits, "01"
//   +-----------------------------+
//   | record | record | ...       |   appended, each made durable by one fdatasync
//   +-----------------------------+
//
//   record:
//   +----------------+---------+------------------------+------------+-----------------+
//   | masked CRC (4) | len (2) | first_seen_unix_ns (8) | job_id (8) | key (len bytes) |
//   +----------------+---------+------------------------+------------+-----------------+
//
// The CRC is the masked CRC32C (util/crc32c.h, as the WAL's) of everything after it. A key is
// 1..128 bytes of visible ASCII (0x21..0x7e), as EnqueueOptions::idempotency_key; a job id is
// never 0. Records carry no type: a key appears again only after its earlier record expired or
// was evicted, so the later record of a key supersedes the earlier one.
#ifndef TASKRING_WAL_KEY_FILE_FORMAT_H_
#define TASKRING_WAL_KEY_FILE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "taskring/status.h"

namespace taskring::wal {

inline constexpr char kKeyFileName[] = "keys";
inline constexpr char kKeyFileMagic[] = "TRKEYS";  // 6 bytes, then the version
inline constexpr char kKeyFileVersion[] = "01";    // 2 ASCII digits
inline constexpr size_t kKeyFileHeaderSize = 8;
// crc (4) + len (2) + first_seen_unix_ns (8) + job_id (8).
inline constexpr size_t kKeyRecordHeaderSize = 4 + 2 + 8 + 8;
inline constexpr size_t kMinKeyBytes = 1;
inline constexpr size_t kMaxKeyBytes = 128;
inline constexpr size_t kMaxKeyRecordSize = kKeyRecordHeaderSize + kMaxKeyBytes;

struct KeyRecord {
  std::string key;
  uint64_t first_seen_unix_ns = 0;
  uint64_t job_id = 0;

  friend bool operator==(const KeyRecord&, const KeyRecord&) = default;
};

// 1..128 bytes, each 0x21..0x7e: what EnqueueOptions::idempotency_key allows and the parser
// accepts.
bool ValidIdempotencyKey(std::string_view key);

// Appends the 8-byte file header.
void EncodeKeyFileHeader(std::string* out);
// Appends one record. The key must pass ValidIdempotencyKey and job_id be non-zero, or the
// parser refuses the file later (the store checks before it calls this).
void EncodeKeyRecord(std::string_view key, uint64_t first_seen_unix_ns, uint64_t job_id,
                     std::string* out);

struct KeyFileContents {
  // The records of the valid prefix, in file order (a key may appear more than once: the later
  // record wins).
  std::vector<KeyRecord> records;
  // Where the valid prefix ends: the header and every complete, valid record. 0 when the file
  // has no complete header (empty, or a header cut short: the store writes a new file).
  uint64_t valid_bytes = 0;
  // Bytes after valid_bytes are a torn tail (a last append cut short, or with a bad checksum,
  // after which no valid record follows): the caller truncates the file to valid_bytes.
  bool torn = false;
};

// Parses a whole key file. OK with the valid prefix (and maybe a torn tail, see above);
// Incompatible for a key file of another format version; Corruption, with the byte offset and
// the reason, for a foreign file (bad magic), a record whose checksum passes but whose fields
// are invalid (key length or bytes, job id 0), or a damaged record followed by a valid one.
// Pure: reads only `file`, never outside it. The caller puts the path in front of the message.
[[nodiscard]] Status ParseKeyFile(std::string_view file, KeyFileContents* out);

}  // namespace taskring::wal

#endif  // TASKRING_WAL_KEY_FILE_FORMAT_H_
