#include "outcome/outcome_record.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "util/coding.h"
#include "util/crc32c.h"
#include "util/job_meta.h"

namespace taskring::outcome {
namespace {

constexpr size_t kMagicSize = sizeof(kOutcomeFileMagic) - 1;
constexpr size_t kVersionSize = sizeof(kOutcomeFileVersion) - 1;
static_assert(kMagicSize + kVersionSize == kOutcomeFileHeaderSize);
static_assert(kMaxMetaBytes <= 0xffff && kMaxErrorBytes <= 0xffff, "u16 length fields");
static_assert(kMaxOutcomeRecordSize <= UINT32_MAX, "a record's size fits in 32 bits");

// Offsets in the head (see the diagram in the header).
constexpr size_t kVersionAt = 0;
constexpr size_t kStateAt = 1;
constexpr size_t kPriorityAt = 2;
constexpr size_t kReservedAt = 3;
constexpr size_t kJobIdAt = 4;
constexpr size_t kSecretAt = 12;
constexpr size_t kAttemptAt = 24;
constexpr size_t kMaxAttemptsAt = 28;
constexpr size_t kEnqueuedAt = 32;
constexpr size_t kStartedAt = 40;
constexpr size_t kFinishedAt = 48;
constexpr size_t kResultLenAt = 56;
constexpr size_t kMetaLenAt = 60;
constexpr size_t kErrorLenAt = 62;
static_assert(kSecretAt + kSecretBytes == kAttemptAt);
static_assert(kErrorLenAt + 2 == kOutcomeHeadFixedSize);

uint16_t DecodeFixed16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               (static_cast<uint16_t>(static_cast<uint8_t>(p[1])) << 8));
}

void PutFixed16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

uint32_t MaskedCrc(std::string_view bytes) {
  return util::crc32c::Mask(util::crc32c::Value(bytes.data(), bytes.size()));
}

// The checks a head's fixed part must pass that cost no CRC: what CountOutcomeRecordsFrom
// tries first at every byte. `p` holds the frame and the fixed head.
bool PlausibleFrame(const char* p) {
  const uint32_t head_len = util::DecodeFixed32(p);
  if (head_len < kOutcomeHeadFixedSize || head_len > kMaxOutcomeHeadSize) return false;
  const char* h = p + kOutcomeFrameSize;
  const size_t meta_len = DecodeFixed16(h + kMetaLenAt);
  const size_t error_len = DecodeFixed16(h + kErrorLenAt);
  return static_cast<uint8_t>(h[kVersionAt]) == kOutcomeRecordVersion && h[kReservedAt] == 0 &&
         head_len == kOutcomeHeadFixedSize + meta_len + error_len &&
         util::DecodeFixed32(h + kResultLenAt) <= kMaxResultBytes;
}

Status CheckResult(std::string_view result_and_crc, uint32_t result_len) {
  if (result_len > kMaxResultBytes) {
    return Status::Corruption("result length " + std::to_string(result_len) + " over " +
                              std::to_string(kMaxResultBytes));
  }
  if (result_and_crc.size() < size_t{result_len} + kOutcomeTrailerSize) {
    return Status::Corruption("result cut short (" + std::to_string(result_and_crc.size()) +
                              " of " + std::to_string(result_len + kOutcomeTrailerSize) +
                              " bytes)");
  }
  const uint32_t expected = util::DecodeFixed32(result_and_crc.data() + result_len);
  if (MaskedCrc(result_and_crc.substr(0, result_len)) != expected) {
    return Status::Corruption("result checksum mismatch");
  }
  return Status::OK();
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The 8-byte header; `file` has at least that many bytes.
Status CheckHeader(std::string_view file) {
  if (std::memcmp(file.data(), kOutcomeFileMagic, kMagicSize) != 0 || !IsDigit(file[kMagicSize]) ||
      !IsDigit(file[kMagicSize + 1])) {
    return Status::Corruption("not a taskring outcome file (bad magic)");
  }
  const std::string_view version = file.substr(kMagicSize, kVersionSize);
  if (version != kOutcomeFileVersion) {
    return Status::Incompatible("outcome file format version " + std::string(version) +
                                ", this build reads version " + kOutcomeFileVersion);
  }
  return Status::OK();
}

}  // namespace

bool ValidOutcomeState(JobState s) {
  return s == JobState::kCompleted || s == JobState::kRetrying || s == JobState::kDead ||
         s == JobState::kCancelled;
}

Status ValidateOutcome(const OutcomeRecord& rec) {
  if (rec.job_id == 0) return Status::InvalidArgument("outcome of job id 0");
  if (!ValidOutcomeState(rec.state)) {
    // As a number: JobStateName is in the client library, which this layer is below.
    return Status::InvalidArgument("outcome state " +
                                   std::to_string(static_cast<unsigned>(rec.state)) +
                                   " is not completed, retrying, dead or cancelled");
  }
  if (rec.priority > kMaxPriority) {
    return Status::InvalidArgument("outcome priority " + std::to_string(rec.priority) + " over " +
                                   std::to_string(kMaxPriority));
  }
  if (rec.meta.size() > kMaxMetaBytes || rec.error.size() > kMaxErrorBytes ||
      rec.result.size() > kMaxResultBytes) {
    return Status::InvalidArgument(
        "outcome meta, error or result too long (" + std::to_string(rec.meta.size()) + ", " +
        std::to_string(rec.error.size()) + ", " + std::to_string(rec.result.size()) +
        " bytes; limits " + std::to_string(kMaxMetaBytes) + ", " + std::to_string(kMaxErrorBytes) +
        ", " + std::to_string(kMaxResultBytes) + ")");
  }
  if (rec.meta.empty()) return Status::OK();  // a plain job: nothing to decode
  util::JobMeta meta;
  Status s = util::DecodeJobMeta(rec.meta, &meta);
  if (!s.ok()) return Status::InvalidArgument("outcome meta: " + std::string(s.message()));
  return Status::OK();
}

size_t EncodedOutcomeSize(const OutcomeRecord& rec) {
  return kOutcomeFrameSize + kOutcomeHeadFixedSize + rec.meta.size() + rec.error.size() +
         rec.result.size() + kOutcomeTrailerSize;
}

void EncodeOutcome(const OutcomeRecord& rec, std::string* out) {
  const size_t start = out->size();
  const size_t head_len = kOutcomeHeadFixedSize + rec.meta.size() + rec.error.size();
  out->reserve(start + EncodedOutcomeSize(rec));
  util::PutFixed32(out, static_cast<uint32_t>(head_len));
  out->append(4, '\0');  // head_crc, filled in below
  out->push_back(static_cast<char>(kOutcomeRecordVersion));
  out->push_back(static_cast<char>(rec.state));
  out->push_back(static_cast<char>(rec.priority));
  out->push_back('\0');
  util::PutFixed64(out, rec.job_id);
  out->append(reinterpret_cast<const char*>(rec.secret.data()), rec.secret.size());
  util::PutFixed32(out, rec.attempt);
  util::PutFixed32(out, rec.max_attempts);
  util::PutFixed64(out, rec.enqueued_unix_ns);
  util::PutFixed64(out, rec.started_unix_ns);
  util::PutFixed64(out, rec.finished_unix_ns);
  util::PutFixed32(out, static_cast<uint32_t>(rec.result.size()));
  PutFixed16(out, static_cast<uint16_t>(rec.meta.size()));
  PutFixed16(out, static_cast<uint16_t>(rec.error.size()));
  out->append(rec.meta);
  out->append(rec.error);
  const std::string_view head(out->data() + start + kOutcomeFrameSize, head_len);
  util::EncodeFixed32(out->data() + start + 4, MaskedCrc(head));
  out->append(rec.result);
  util::PutFixed32(out, MaskedCrc(rec.result));
}

Status DecodeOutcomeHead(std::string_view in, OutcomeRecord* rec, uint32_t* result_len,
                         uint64_t* record_size) {
  if (in.size() < kOutcomeFrameSize + kOutcomeHeadFixedSize) {
    return Status::Corruption("record head cut short (" + std::to_string(in.size()) + " bytes)");
  }
  const char* p = in.data();
  const uint32_t head_len = util::DecodeFixed32(p);
  // Checked before anything is read at head_len: it is not under a checksum.
  if (head_len < kOutcomeHeadFixedSize || head_len > kMaxOutcomeHeadSize) {
    return Status::Corruption("head length " + std::to_string(head_len) + " outside " +
                              std::to_string(kOutcomeHeadFixedSize) + ".." +
                              std::to_string(kMaxOutcomeHeadSize));
  }
  if (in.size() - kOutcomeFrameSize < head_len) {
    return Status::Corruption("record head cut short (" +
                              std::to_string(in.size() - kOutcomeFrameSize) + " of " +
                              std::to_string(head_len) + " bytes)");
  }
  const std::string_view head(p + kOutcomeFrameSize, head_len);
  if (MaskedCrc(head) != util::DecodeFixed32(p + 4)) {
    return Status::Corruption("head checksum mismatch");
  }
  const char* h = head.data();
  const uint8_t version = static_cast<uint8_t>(h[kVersionAt]);
  if (version != kOutcomeRecordVersion) {
    return Status::Corruption("record version " + std::to_string(version));
  }
  const auto state = static_cast<JobState>(static_cast<uint8_t>(h[kStateAt]));
  if (!ValidOutcomeState(state)) {
    return Status::Corruption("state " + std::to_string(static_cast<uint8_t>(h[kStateAt])) +
                              " is not an outcome's");
  }
  const uint8_t priority = static_cast<uint8_t>(h[kPriorityAt]);
  if (priority > kMaxPriority) {
    return Status::Corruption("priority " + std::to_string(priority));
  }
  if (h[kReservedAt] != 0) return Status::Corruption("reserved byte is not 0");
  const uint64_t job_id = util::DecodeFixed64(h + kJobIdAt);
  if (job_id == 0) return Status::Corruption("job id 0");
  const uint32_t rlen = util::DecodeFixed32(h + kResultLenAt);
  const size_t meta_len = DecodeFixed16(h + kMetaLenAt);
  const size_t error_len = DecodeFixed16(h + kErrorLenAt);
  if (rlen > kMaxResultBytes || meta_len > kMaxMetaBytes || error_len > kMaxErrorBytes) {
    return Status::Corruption("result, meta or error length over its limit (" +
                              std::to_string(rlen) + ", " + std::to_string(meta_len) + ", " +
                              std::to_string(error_len) + ")");
  }
  if (kOutcomeHeadFixedSize + meta_len + error_len != head_len) {
    return Status::Corruption("head length " + std::to_string(head_len) +
                              " does not match meta and error lengths " + std::to_string(meta_len) +
                              " and " + std::to_string(error_len));
  }
  const std::string_view meta = head.substr(kOutcomeHeadFixedSize, meta_len);
  util::JobMeta decoded;
  Status s = util::DecodeJobMeta(meta, &decoded);
  if (!s.ok()) return Status::Corruption("meta: " + std::string(s.message()));

  rec->job_id = job_id;
  std::memcpy(rec->secret.data(), h + kSecretAt, kSecretBytes);
  rec->state = state;
  rec->priority = priority;
  rec->attempt = util::DecodeFixed32(h + kAttemptAt);
  rec->max_attempts = util::DecodeFixed32(h + kMaxAttemptsAt);
  rec->enqueued_unix_ns = util::DecodeFixed64(h + kEnqueuedAt);
  rec->started_unix_ns = util::DecodeFixed64(h + kStartedAt);
  rec->finished_unix_ns = util::DecodeFixed64(h + kFinishedAt);
  rec->meta.assign(meta);
  rec->error.assign(head.substr(kOutcomeHeadFixedSize + meta_len, error_len));
  rec->result.clear();
  *result_len = rlen;
  *record_size = kOutcomeFrameSize + head_len + uint64_t{rlen} + kOutcomeTrailerSize;
  return Status::OK();
}

Status DecodeOutcomeResult(std::string_view result_and_crc, uint32_t result_len,
                           std::string* result) {
  Status s = CheckResult(result_and_crc, result_len);
  if (!s.ok()) return s;
  result->assign(result_and_crc.substr(0, result_len));
  return Status::OK();
}

Status DecodeOutcome(std::string_view in, OutcomeRecord* rec, uint64_t* record_size) {
  uint32_t result_len = 0;
  uint64_t size = 0;
  Status s = DecodeOutcomeHead(in, rec, &result_len, &size);
  if (!s.ok()) return s;
  if (in.size() < size) {
    return Status::Corruption("record cut short (" + std::to_string(in.size()) + " of " +
                              std::to_string(size) + " bytes)");
  }
  const size_t result_at = static_cast<size_t>(size) - result_len - kOutcomeTrailerSize;
  s = DecodeOutcomeResult(in.substr(result_at), result_len, &rec->result);
  if (!s.ok()) return s;
  *record_size = size;
  return Status::OK();
}

void EncodeOutcomeFileHeader(std::string* out) {
  out->append(kOutcomeFileMagic, kMagicSize);
  out->append(kOutcomeFileVersion, kVersionSize);
}

Status ScanOutcomeFile(std::string_view file, const OutcomeVisitor& fn, uint64_t* valid_end) {
  *valid_end = 0;
  if (file.size() < kOutcomeFileHeaderSize) {
    // A header cut short by a crash right after the file was created: nothing in it.
    std::string header;
    EncodeOutcomeFileHeader(&header);
    if (header.compare(0, file.size(), file) != 0) {
      return Status::Corruption("not a taskring outcome file (bad magic)");
    }
    return Status::OK();
  }
  Status s = CheckHeader(file);
  if (!s.ok()) return s;
  size_t pos = kOutcomeFileHeaderSize;
  OutcomeRecord rec;
  while (pos < file.size()) {
    const std::string_view in = file.substr(pos);
    uint32_t result_len = 0;
    uint64_t size = 0;
    if (!DecodeOutcomeHead(in, &rec, &result_len, &size).ok() || in.size() < size ||
        !CheckResult(in.substr(size - result_len - kOutcomeTrailerSize), result_len).ok()) {
      break;
    }
    fn(pos, rec, size);
    pos += size;
  }
  *valid_end = pos;
  return Status::OK();
}

Status ParseOutcomeFile(std::string_view file, std::vector<std::pair<uint64_t, OutcomeRecord>>* out,
                        uint64_t* valid_end) {
  out->clear();
  return ScanOutcomeFile(
      file,
      [&](uint64_t offset, const OutcomeRecord& head, uint64_t size) {
        OutcomeRecord rec = head;
        uint64_t again = 0;
        // Decoded again whole: the scan checked it, so only the result is new here.
        if (DecodeOutcome(file.substr(offset, size), &rec, &again).ok()) {
          out->emplace_back(offset, std::move(rec));
        }
      },
      valid_end);
}

uint64_t CountOutcomeRecordsFrom(std::string_view file, uint64_t from) {
  uint64_t found = 0;
  size_t pos = from;
  OutcomeRecord rec;
  while (pos < file.size() && file.size() - pos >= kOutcomeFrameSize + kOutcomeHeadFixedSize) {
    uint32_t result_len = 0;
    uint64_t size = 0;
    if (!PlausibleFrame(file.data() + pos) ||
        !DecodeOutcomeHead(file.substr(pos), &rec, &result_len, &size).ok()) {
      ++pos;
      continue;
    }
    ++found;
    // A record cut by the end of the file: only its frame and head are skipped.
    const uint64_t head_frame = size - result_len - kOutcomeTrailerSize;
    pos += file.size() - pos >= size ? size : head_frame;
  }
  return found;
}

std::string OutcomeFileName(uint32_t number) {
  char name[32];
  std::snprintf(name, sizeof(name), "%08" PRIu32 ".out", number);
  return name;
}

bool ParseOutcomeFileName(std::string_view name, uint32_t* number) {
  constexpr std::string_view kSuffix = ".out";
  if (name.size() < 8 + kSuffix.size() || name.size() > 10 + kSuffix.size()) return false;
  if (!name.ends_with(kSuffix)) return false;
  uint64_t n = 0;
  for (char c : name.substr(0, name.size() - kSuffix.size())) {
    if (!IsDigit(c)) return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0 || n > UINT32_MAX) return false;
  // Exactly the name OutcomeFileName gives (no extra leading zeros), so one number is one file.
  if (OutcomeFileName(static_cast<uint32_t>(n)) != name) return false;
  *number = static_cast<uint32_t>(n);
  return true;
}

}  // namespace taskring::outcome
