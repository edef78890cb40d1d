// libFuzzer target: WAL segment parsing, record decoding and recovery (ReplayWal / VerifyWal)
// on arbitrary bytes.
//
// Input layout (inputs shorter than 5 bytes are one segment, in memory only):
//   byte 0      flags
//                 bit 0     two segment files (else one)
//                 bits 1-3  all zero: also run recovery on files (1 input in 8; in a MemEnv); the
//                           in-memory checks run for every input
//                 bit 4     second segment is numbered UINT64_MAX instead of 2
//                 bit 5     file run: also replay (no salvage) with a callback that fails at
//                           record k
//                 bits 6-7  k
//   bytes 1-4   split point (uint32 little-endian), clamped to the body size
//   bytes 5-    body: segment 1 = body[0, split), segment 2 = body[split, end)
//
// Invariants checked (abort on violation):
//  - no crash, no UB, no leak (ASan + UBSan);
//  - SegmentParser: items in file order and inside the segment; every record's fragments, walked
//    again independently here, are contiguous, well-typed (FULL | FIRST MIDDLE* LAST), pass their
//    CRC and concatenate to exactly the record bytes handed out;
//  - DecodeRecord: OK or Corruption with a message; a decoded record re-encodes to exactly the
//    input bytes (a version-1 record: to a version-2 record) and decodes back equal;
//  - ReplayWal / VerifyWal: errors are Corruption/IOError/NotFound with a message; records handed
//    to the callback decode/re-encode equal, have strictly increasing LSNs and are, in order, a
//    subsequence of the CRC-valid records the parser found; VerifyWal never changes the files and
//    agrees with a non-salvage replay; a successful non-salvage replay delivers every record and
//    leaves a log that then verifies clean with the same records; a salvage replay delivers
//    what the non-salvage one did (as a prefix) and only fails with IOError; a failing callback
//    stops the replay with exactly its error.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "io/env.h"
#include "io/mem_env.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "wal/wal_format.h"
#include "wal/wal_reader.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_segment_parser.h"

namespace taskring::wal {
namespace {

using fuzz::CheckErrorStatus;
using Code = Status::Code;

constexpr size_t kControlBytes = 5;

// Decodes `bytes`; on success checks the round trip and returns the record.
std::optional<WalRecord> DecodeChecked(std::string_view bytes) {
  WalRecord rec;
  Status s = DecodeRecord(bytes, &rec);
  CheckErrorStatus(s, {Code::kCorruption}, "DecodeRecord");
  if (!s.ok()) return std::nullopt;
  FUZZ_CHECK(bytes.size() >= kStartFixedSize, "decoded a record of %zu bytes", bytes.size());
  FUZZ_CHECK(rec.payload.size() <= kMaxPayloadBytes, "payload of %zu bytes", rec.payload.size());
  FUZZ_CHECK(rec.type == RecordType::kEnqueue || rec.payload.empty(), "payload on a %s record",
             RecordTypeName(rec.type));
  std::string encoded;
  EncodeRecord(rec, &encoded);
  // Versions 1 to 3 are read, never written: they re-encode as version 4.
  FUZZ_CHECK(bytes[0] != static_cast<char>(kRecordFormatVersion) || encoded == bytes,
             "re-encoding a decoded record changed it (%zu -> %zu bytes)", bytes.size(),
             encoded.size());
  FUZZ_CHECK(rec.meta.size() <= kMaxRecordMetaBytes, "meta of %zu bytes", rec.meta.size());
  WalRecord again;
  Status s2 = DecodeRecord(encoded, &again);
  FUZZ_CHECK(s2.ok(), "re-encoded record does not decode: %s", s2.ToString().c_str());
  FUZZ_CHECK(again == rec, "re-encoded record decodes to a different record");
  return rec;
}

// Walks the fragments of a record the parser handed out, independently of the parser: they must
// be contiguous (but for block trailers), typed FULL or FIRST MIDDLE* LAST, pass their CRC and
// concatenate to item.data.
void CheckRecordFragments(std::string_view seg, const SegmentParser::Item& item) {
  uint64_t pos = item.offset;
  std::string joined;
  int index = 0;
  while (true) {
    const uint64_t block_left = kBlockSize - pos % kBlockSize;
    if (block_left < kHeaderSize) pos += block_left;  // zero trailer
    FUZZ_CHECK(pos + kHeaderSize <= item.end, "record [%llu,%llu): fragment header at %llu",
               (unsigned long long)item.offset, (unsigned long long)item.end,
               (unsigned long long)pos);
    const char* h = seg.data() + pos;
    const size_t length = static_cast<uint8_t>(h[4]) | (size_t{static_cast<uint8_t>(h[5])} << 8);
    const uint8_t type = static_cast<uint8_t>(h[6]);
    FUZZ_CHECK(pos + kHeaderSize + length <= item.end && kHeaderSize + length <= block_left,
               "fragment at %llu (length %zu) leaves record [%llu,%llu) or its block",
               (unsigned long long)pos, length, (unsigned long long)item.offset,
               (unsigned long long)item.end);
    const uint32_t stored = util::crc32c::Unmask(util::DecodeFixed32(h));
    FUZZ_CHECK(stored == util::crc32c::Value(h + 6, 1 + length),
               "fragment at %llu of a delivered record fails its CRC", (unsigned long long)pos);
    const bool first = index == 0;
    pos += kHeaderSize + length;
    const bool last = pos == item.end;
    if (first && last) {
      FUZZ_CHECK(type == kFullType, "single-fragment record of type %u", type);
    } else if (first) {
      FUZZ_CHECK(type == kFirstType, "first fragment of type %u", type);
    } else if (last) {
      FUZZ_CHECK(type == kLastType, "last fragment of type %u", type);
    } else {
      FUZZ_CHECK(type == kMiddleType, "middle fragment of type %u", type);
    }
    joined.append(h + kHeaderSize, length);
    ++index;
    if (last) break;
  }
  FUZZ_CHECK(joined == item.data, "record bytes (%zu) differ from its fragments (%zu)",
             item.data.size(), joined.size());
}

// Parses one segment in memory; returns the records that decode.
std::vector<WalRecord> ParseChecked(std::string_view seg) {
  std::vector<WalRecord> records;
  SegmentParser parser(seg);
  SegmentParser::Item item;
  uint64_t prev_offset = 0;
  uint64_t prev_record_end = 0;
  size_t items = 0;
  while (parser.Next(&item)) {
    ++items;
    FUZZ_CHECK(items <= seg.size() + 2, "parser produced %zu items from %zu bytes", items,
               seg.size());
    FUZZ_CHECK(item.offset >= prev_offset, "item offset %llu after %llu",
               (unsigned long long)item.offset, (unsigned long long)prev_offset);
    FUZZ_CHECK(item.offset >= prev_record_end, "item at %llu overlaps the record ending at %llu",
               (unsigned long long)item.offset, (unsigned long long)prev_record_end);
    FUZZ_CHECK(item.offset < seg.size(), "item offset %llu outside the %zu-byte segment",
               (unsigned long long)item.offset, seg.size());
    prev_offset = item.offset;
    if (item.kind == SegmentParser::Item::Kind::kDamage) {
      FUZZ_CHECK(!item.reason.empty(), "damage at %llu without a reason",
                 (unsigned long long)item.offset);
      continue;
    }
    FUZZ_CHECK(item.offset < item.end && item.end <= seg.size(),
               "record [%llu,%llu) in a %zu-byte segment", (unsigned long long)item.offset,
               (unsigned long long)item.end, seg.size());
    prev_record_end = item.end;
    CheckRecordFragments(seg, item);
    if (auto rec = DecodeChecked(item.data)) records.push_back(std::move(*rec));
  }
  FUZZ_CHECK(!parser.Next(&item), "parser resumed after reporting the end");
  return records;
}

// --- recovery over segment files, in a MemEnv ------------------------------------------------

// The segments live in a MemEnv (io/mem_env.h): the recovery code under test is the same, it
// only reaches files through io::Env, and no input leaves files behind on a disk.
io::MemEnv& Env() {
  static io::MemEnv* env = [] {
    auto* e = new io::MemEnv;
    FUZZ_CHECK(e->CreateDir("/wal", 0700).ok(), "cannot create the in-memory WAL directory");
    return e;
  }();
  return *env;
}

const std::string& WalDir() {
  static const std::string dir = "/wal";
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::string out;
  Status s = io::ReadFileToString(&Env(), path, &out);
  FUZZ_CHECK(s.ok(), "cannot read %s: %s", path.c_str(), s.ToString().c_str());
  return out;
}

struct Files {
  std::vector<std::string> paths;
  std::vector<std::string_view> contents;
};

void WriteSegments(const Files& files) {
  for (uint64_t n : {uint64_t{1}, uint64_t{2}, UINT64_MAX}) {
    (void)Env().RemoveFile(SegmentPath(WalDir(), n));
  }
  for (size_t i = 0; i < files.paths.size(); ++i) {
    std::unique_ptr<io::WritableFile> f;
    Status s = Env().NewWritableFile(files.paths[i], {}, &f);
    if (s.ok()) s = f->Write(0, files.contents[i]);
    FUZZ_CHECK(s.ok(), "cannot write %s: %s", files.paths[i].c_str(), s.ToString().c_str());
  }
}

struct Replayed {
  Status status;
  ReplayReport report;
  std::vector<WalRecord> delivered;
  int calls = 0;
};

// fail_at >= 0: the callback returns IOError("fuzz callback stop") on call number fail_at.
Replayed Replay(bool salvage, int fail_at) {
  Replayed r;
  ReplayOptions options;
  options.truncate_torn_tail = true;
  options.salvage = salvage;
  options.env = &Env();
  r.status = ReplayWal(
      WalDir(), options,
      [&](const WalRecord& rec) -> Status {
        FUZZ_CHECK(fail_at < 0 || r.calls <= fail_at, "callback called after it failed");
        if (fail_at >= 0 && r.calls == fail_at) {
          ++r.calls;
          return Status::IOError("fuzz callback stop");
        }
        ++r.calls;
        std::string encoded;
        EncodeRecord(rec, &encoded);
        auto back = DecodeChecked(encoded);
        FUZZ_CHECK(back && *back == rec, "delivered record does not survive a round trip");
        FUZZ_CHECK(r.delivered.empty() || rec.lsn > r.delivered.back().lsn,
                   "LSN %llu delivered after LSN %llu", (unsigned long long)rec.lsn,
                   (unsigned long long)r.delivered.back().lsn);
        r.delivered.push_back(rec);
        return Status::OK();
      },
      &r.report);
  CheckErrorStatus(r.status, {Code::kCorruption, Code::kIOError, Code::kNotFound}, "ReplayWal");
  return r;
}

bool IsSubsequence(const std::vector<WalRecord>& sub, const std::vector<WalRecord>& seq) {
  size_t j = 0;
  for (size_t i = 0; i < seq.size() && j < sub.size(); ++i) {
    if (seq[i] == sub[j]) ++j;
  }
  return j == sub.size();
}

bool IsPrefix(const std::vector<WalRecord>& prefix, const std::vector<WalRecord>& seq) {
  if (prefix.size() > seq.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (!(prefix[i] == seq[i])) return false;
  }
  return true;
}

void CheckReplay(const Replayed& r, const std::vector<WalRecord>& found, const char* what) {
  FUZZ_CHECK(IsSubsequence(r.delivered, found),
             "%s delivered records (%zu) that the parser did not find in that order (%zu found)",
             what, r.delivered.size(), found.size());
  FUZZ_CHECK(r.report.records == r.delivered.size(), "%s: report.records %llu, delivered %zu", what,
             (unsigned long long)r.report.records, r.delivered.size());
  if (!r.delivered.empty()) {
    FUZZ_CHECK(r.report.last_lsn == r.delivered.back().lsn, "%s: report.last_lsn %llu, last %llu",
               what, (unsigned long long)r.report.last_lsn,
               (unsigned long long)r.delivered.back().lsn);
  }
}

void SameReport(const ReplayReport& a, const ReplayReport& b, const char* what) {
  FUZZ_CHECK(a.segments == b.segments && a.records == b.records && a.last_lsn == b.last_lsn &&
                 a.highest_segment == b.highest_segment && a.torn_tail_bytes == b.torn_tail_bytes &&
                 a.torn_tail_file == b.torn_tail_file && a.problems == b.problems,
             "%s: reports differ (records %llu/%llu, last_lsn %llu/%llu, torn %llu/%llu, "
             "problems %zu/%zu)",
             what, (unsigned long long)a.records, (unsigned long long)b.records,
             (unsigned long long)a.last_lsn, (unsigned long long)b.last_lsn,
             (unsigned long long)a.torn_tail_bytes, (unsigned long long)b.torn_tail_bytes,
             a.problems.size(), b.problems.size());
}

void RunFiles(const Files& files, const std::vector<WalRecord>& found, uint8_t flags) {
  // 1. VerifyWal: read-only.
  WriteSegments(files);
  ReplayReport verified;
  Status vs = VerifyWal(WalDir(), &verified, &Env());
  CheckErrorStatus(vs, {Code::kCorruption, Code::kIOError, Code::kNotFound}, "VerifyWal");
  for (size_t i = 0; i < files.paths.size(); ++i) {
    FUZZ_CHECK(ReadFile(files.paths[i]) == files.contents[i], "VerifyWal changed %s",
               files.paths[i].c_str());
  }
  FUZZ_CHECK(verified.segments == files.paths.size(), "VerifyWal saw %llu segments of %zu",
             (unsigned long long)verified.segments, files.paths.size());
  FUZZ_CHECK(verified.records <= found.size(), "VerifyWal counted %llu records, parser found %zu",
             (unsigned long long)verified.records, found.size());
  if (vs.ok()) FUZZ_CHECK(verified.problems.empty(), "VerifyWal OK with problems listed");

  // 2. Replay without salvage (cuts a torn tail): agrees with VerifyWal.
  Replayed strict = Replay(/*salvage=*/false, /*fail_at=*/-1);
  CheckReplay(strict, found, "strict replay");
  if (!strict.status.IsIOError()) {
    FUZZ_CHECK(strict.status.ToString() == vs.ToString(), "ReplayWal says '%s', VerifyWal '%s'",
               strict.status.ToString().c_str(), vs.ToString().c_str());
    SameReport(strict.report, verified, "strict replay vs verify");
  }
  if (strict.status.ok()) {
    FUZZ_CHECK(strict.report.problems.empty(), "strict replay OK with problems listed");
    // All of them, unless a torn tail was cut: in the newest segment the cut may come at a gap
    // of zeroed space with valid records behind it, which by design were never acknowledged
    // (wal_reader.cc, WalkSegment), so only the records before it are delivered.
    FUZZ_CHECK(strict.delivered == found ||
                   (strict.report.torn_tail_bytes > 0 && IsPrefix(strict.delivered, found)),
               "strict replay OK but delivered %zu of the %zu records the parser found "
               "(torn tail %llu bytes)",
               strict.delivered.size(), found.size(),
               (unsigned long long)strict.report.torn_tail_bytes);
    // The repaired log verifies clean, with the same records.
    ReplayReport again;
    Status as = VerifyWal(WalDir(), &again, &Env());
    FUZZ_CHECK(as.ok(), "log does not verify after a successful replay: %s", as.ToString().c_str());
    FUZZ_CHECK(again.torn_tail_bytes == 0, "torn tail of %llu bytes left after truncation",
               (unsigned long long)again.torn_tail_bytes);
    FUZZ_CHECK(again.records == strict.report.records && again.last_lsn == strict.report.last_lsn,
               "after truncation: %llu records (last LSN %llu), replay had %llu (last LSN %llu)",
               (unsigned long long)again.records, (unsigned long long)again.last_lsn,
               (unsigned long long)strict.report.records,
               (unsigned long long)strict.report.last_lsn);
  }

  // 3. Replay with salvage, on the original bytes.
  WriteSegments(files);
  Replayed salvaged = Replay(/*salvage=*/true, /*fail_at=*/-1);
  CheckReplay(salvaged, found, "salvage replay");
  FUZZ_CHECK(salvaged.status.ok() || salvaged.status.IsIOError(), "salvage replay failed: %s",
             salvaged.status.ToString().c_str());
  if (!strict.status.IsIOError() && !salvaged.status.IsIOError()) {
    FUZZ_CHECK(IsPrefix(strict.delivered, salvaged.delivered),
               "salvage delivered %zu records, not extending the %zu of the strict replay",
               salvaged.delivered.size(), strict.delivered.size());
    if (strict.status.ok()) {
      FUZZ_CHECK(salvaged.delivered == strict.delivered,
                 "salvage and strict differ on a clean log");
    }
  }

  // 4. A callback error stops the replay and is returned as is.
  if (flags & 0x20) {
    const int fail_at = flags >> 6;
    WriteSegments(files);
    Replayed failing = Replay(/*salvage=*/false, fail_at);
    const Replayed& ref = strict;
    if (!ref.status.IsIOError() && !failing.status.IsIOError()) {
      FUZZ_CHECK(IsPrefix(failing.delivered, ref.delivered),
                 "failing replay delivered records the full replay did not");
    }
    if (ref.delivered.size() > static_cast<size_t>(fail_at)) {
      FUZZ_CHECK(failing.calls == fail_at + 1, "callback called %d times, failed at call %d",
                 failing.calls, fail_at + 1);
      FUZZ_CHECK(failing.status.IsIOError() && failing.status.message() == "fuzz callback stop",
                 "callback error not returned: %s", failing.status.ToString().c_str());
    }
  }
}

}  // namespace
}  // namespace taskring::wal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskring::wal;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // DecodeRecord on the raw bytes (no framing).
  DecodeChecked(in);
  if (size < kControlBytes) {
    ParseChecked(in);
    return 0;
  }

  const uint8_t flags = data[0];
  const std::string_view body = in.substr(kControlBytes);
  DecodeChecked(body);
  const bool two = (flags & 0x01) != 0;
  const size_t split =
      two ? std::min<size_t>(taskring::util::DecodeFixed32(in.data() + 1), body.size())
          : body.size();
  const std::string_view seg1 = body.substr(0, split);
  const std::string_view seg2 = body.substr(split);

  std::vector<WalRecord> found = ParseChecked(seg1);
  if (two) {
    std::vector<WalRecord> more = ParseChecked(seg2);
    found.insert(found.end(), more.begin(), more.end());
  }

  if ((flags & 0x0e) == 0) {
    const std::string& dir = WalDir();
    Files files;
    files.paths.push_back(SegmentPath(dir, 1));
    files.contents.push_back(seg1);
    if (two) {
      files.paths.push_back(SegmentPath(dir, (flags & 0x10) ? UINT64_MAX : 2));
      files.contents.push_back(seg2);
    }
    RunFiles(files, found, flags);
  }
  return 0;
}
