// The outcome record: what a finished job (or a failed attempt) gives back, kept in
// DIR/outcomes/ apart from the WAL because it must outlive the segment its job was logged in
// (issue 13; spec: docs/wal_format.md, "The outcome store"). This header is the format and pure
// parsers of bytes: no I/O. The writer is daemon/outcome_store.h, the client-side reader
// outcome/outcome_reader.h, and the shared-memory index that finds a record in O(1)
// outcome/outcome_index.h.
//
// Data files are named "%08u.out" by a number that only grows; records are appended, many per
// file, so a high completion rate costs appends, not a file per job. Integers little-endian:
//
//   file:   "TROUTC" (6) | version (2, "01") | record | record | ...
//
//   record:
//   +--------------+--------------+------------------+--------------------+----------------+
//   | head_len (4) | head_crc (4) | head (head_len)  | result (result_len)| result_crc (4) |
//   +--------------+--------------+------------------+--------------------+----------------+
//
//   head (64 fixed bytes, then meta and error):
//     0 version u8 (1)   1 state u8   2 priority u8 (0..9)   3 reserved u8 (0)
//     4 job_id u64 (never 0)          12 secret (12 bytes)
//    24 attempt u32      28 max_attempts u32
//    32 enqueued_unix_ns u64          40 started_unix_ns u64   48 finished_unix_ns u64
//    56 result_len u32   60 meta_len u16   62 error_len u16
//    64 meta (meta_len)  64+meta_len error (error_len)
//
// Both CRCs are masked CRC32C (util/crc32c.h, as the WAL's): head_crc of the head bytes,
// result_crc of the result bytes. The result comes after the head and has a checksum of its own
// so that a status poll reads the head only (at most kMaxOutcomeHeadFrame bytes, one 4 KiB
// read) and never a large result. head_len is not under a checksum itself, but it must equal
// 64 + meta_len + error_len, which are.
#ifndef TASKRING_OUTCOME_OUTCOME_RECORD_H_
#define TASKRING_OUTCOME_OUTCOME_RECORD_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskring/job.h"
#include "taskring/options.h"
#include "taskring/status.h"

namespace taskring::outcome {

inline constexpr size_t kSecretBytes = 12;  // a job's token secret (96 random bits)
inline constexpr size_t kMaxErrorBytes = 2048;
inline constexpr size_t kMaxResultBytes = 16u << 20;
inline constexpr size_t kMaxMetaBytes = 1024;
static_assert(kMaxMetaBytes == kMaxJobMetaBytes, "a record carries its job's meta whole");

inline constexpr char kOutcomeDirName[] = "outcomes";  // under the queue's WAL directory
inline constexpr char kOutcomeFileMagic[] = "TROUTC";  // 6 bytes, then the version
inline constexpr char kOutcomeFileVersion[] = "01";    // 2 ASCII digits
inline constexpr size_t kOutcomeFileHeaderSize = 8;

inline constexpr uint8_t kOutcomeRecordVersion = 1;
inline constexpr size_t kOutcomeFrameSize = 8;       // head_len + head_crc
inline constexpr size_t kOutcomeHeadFixedSize = 64;  // the head before meta and error
inline constexpr size_t kOutcomeTrailerSize = 4;     // result_crc
inline constexpr size_t kMaxOutcomeHeadSize =
    kOutcomeHeadFixedSize + kMaxMetaBytes + kMaxErrorBytes;
// Frame and the largest head: one read of this many bytes always holds a whole head.
inline constexpr size_t kMaxOutcomeHeadFrame = kOutcomeFrameSize + kMaxOutcomeHeadSize;
inline constexpr size_t kMaxOutcomeRecordSize =
    kMaxOutcomeHeadFrame + kMaxResultBytes + kOutcomeTrailerSize;

struct OutcomeRecord {
  uint64_t job_id = 0;  // never 0
  std::array<uint8_t, kSecretBytes> secret{};
  // Only kCompleted, kRetrying (an attempt failed; the job runs again), kDead and kCancelled.
  JobState state = JobState::kCompleted;
  uint32_t attempt = 0, max_attempts = 0;
  uint8_t priority = 5;  // 0..9
  uint64_t enqueued_unix_ns = 0, started_unix_ns = 0, finished_unix_ns = 0;
  std::string meta;    // encoded job meta (util/job_meta.h); must pass DecodeJobMeta
  std::string error;   // <= kMaxErrorBytes, opaque bytes
  std::string result;  // <= kMaxResultBytes, opaque bytes

  friend bool operator==(const OutcomeRecord&, const OutcomeRecord&) = default;
};

// The states a record may hold.
bool ValidOutcomeState(JobState s);

// OK when EncodeOutcome may write `rec` (so the decoders accept it back); InvalidArgument naming
// the broken rule otherwise: job id 0, a state or priority out of range, meta that fails
// util::DecodeJobMeta, or a field over its limit. The store calls it before it buffers a record.
[[nodiscard]] Status ValidateOutcome(const OutcomeRecord& rec);

// Bytes EncodeOutcome appends for `rec`.
size_t EncodedOutcomeSize(const OutcomeRecord& rec);
// Appends one framed record. Precondition: ValidateOutcome(rec) is OK; otherwise the record is
// written anyway, readers refuse it as Corruption, and a file scan stops there (so the store
// validates before it buffers).
void EncodeOutcome(const OutcomeRecord& rec, std::string* out);

// Decodes the frame and head of the record at the start of `in`, which must hold at least the
// frame and the head (the result may lie beyond `in`). Fills *rec except its result (cleared),
// *result_len and *record_size (frame + head + result + trailer). Corruption, with the reason,
// for a head cut short by the end of `in`, a head_len or field length over its limit or
// inconsistent with the others, a checksum mismatch, a version other than 1, a state or
// priority out of range, a non-zero reserved byte, job id 0, or meta that fails DecodeJobMeta.
// Never reads outside `in`.
[[nodiscard]] Status DecodeOutcomeHead(std::string_view in, OutcomeRecord* rec,
                                       uint32_t* result_len, uint64_t* record_size);
// `result_and_crc` starts at the result and holds at least result_len + 4 bytes. Corruption
// for fewer bytes, a length over kMaxResultBytes or a checksum mismatch.
[[nodiscard]] Status DecodeOutcomeResult(std::string_view result_and_crc, uint32_t result_len,
                                         std::string* result);
// The whole record at the start of `in` (head and result); Corruption as above, or when `in`
// ends before the record does.
[[nodiscard]] Status DecodeOutcome(std::string_view in, OutcomeRecord* rec, uint64_t* record_size);

// Appends the 8-byte data file header.
void EncodeOutcomeFileHeader(std::string* out);

// Calls fn(offset, record, record_size) for each complete, valid record of a whole data file, in
// file order; the record's result is left empty, but its checksum was verified. Stops at the
// first record that is cut short or damaged: *valid_end is then where the last good record
// ends (the header's end if none; 0 when the file has no complete header). The caller decides
// whether the bytes after *valid_end are a torn tail (the newest file) or damage.
// OK also for a file shorter than a header that is a prefix of one (a file a crash left right
// after creating it); Corruption for a foreign file (bad magic), Incompatible for another format
// version. Never reads outside `file_bytes`.
using OutcomeVisitor =
    std::function<void(uint64_t offset, const OutcomeRecord& rec, uint64_t record_size)>;
[[nodiscard]] Status ScanOutcomeFile(std::string_view file_bytes, const OutcomeVisitor& fn,
                                     uint64_t* valid_end);
// As ScanOutcomeFile, collecting every valid record whole (result included) with its offset.
[[nodiscard]] Status ParseOutcomeFile(std::string_view file_bytes,
                                      std::vector<std::pair<uint64_t, OutcomeRecord>>* out,
                                      uint64_t* valid_end);
// How many records at or after `from` (past a damaged spot) still have a checksum-valid head:
// what damage made unreadable, for counting. A found record is skipped whole, so the bytes of
// its result are not searched. Costs a few field checks per byte, a CRC only for a plausible
// head.
uint64_t CountOutcomeRecordsFrom(std::string_view file_bytes, uint64_t from);

// "%08u.out": files are numbered from 1.
std::string OutcomeFileName(uint32_t number);
// The number of a data file's name, false for any other name (temp files, foreign names, 0).
bool ParseOutcomeFileName(std::string_view name, uint32_t* number);

}  // namespace taskring::outcome

#endif  // TASKRING_OUTCOME_OUTCOME_RECORD_H_
