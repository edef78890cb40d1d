// The outcome record's format (outcome/outcome_record.h): encoding, decoding the head alone,
// every kind of damage, data files with torn tails, and file names.
#include "outcome/outcome_record.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "test_util.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/job_meta.h"

namespace taskring::outcome {
namespace {

constexpr uint64_t kT0 = 1'764'000'000'000'000'000ULL;

std::string SomeMeta() {
  util::JobMeta meta;
  meta.type = "email.send";
  meta.key = "order-7";
  meta.headers = {{"trace-id", "4bf92f3577b34da6"}};
  std::string out;
  EXPECT_OK(util::EncodeJobMeta(meta, &out));
  return out;
}

OutcomeRecord Record(uint64_t id, JobState state = JobState::kCompleted, std::string result = "") {
  OutcomeRecord r;
  r.job_id = id;
  for (size_t i = 0; i < kSecretBytes; ++i) r.secret[i] = static_cast<uint8_t>(id * 31 + i);
  r.state = state;
  r.attempt = 2;
  r.max_attempts = 3;
  r.priority = 7;
  r.enqueued_unix_ns = kT0;
  r.started_unix_ns = kT0 + 10;
  r.finished_unix_ns = kT0 + 20 + id;
  r.result = std::move(result);
  return r;
}

// A record with every variable part filled.
OutcomeRecord FullRecord() {
  OutcomeRecord r = Record(42, JobState::kDead, "the result bytes \x00\x01\xff");
  r.meta = SomeMeta();
  r.error = "handler said: no";
  return r;
}

std::string Encode(const OutcomeRecord& r) {
  std::string out;
  EncodeOutcome(r, &out);
  return out;
}

// The file bytes; *offsets gets where each record starts.
std::string EncodeFile(const std::vector<OutcomeRecord>& records,
                       std::vector<uint64_t>* offsets = nullptr) {
  std::string file;
  EncodeOutcomeFileHeader(&file);
  for (const OutcomeRecord& r : records) {
    if (offsets != nullptr) offsets->push_back(file.size());
    EncodeOutcome(r, &file);
  }
  return file;
}

std::vector<OutcomeRecord> SomeRecords() {
  return {FullRecord(), Record(43, JobState::kRetrying), Record(44, JobState::kCancelled),
          Record(45, JobState::kCompleted, std::string(5000, 'r'))};
}

// Recomputes the head checksum of the record at the start of `rec` after a test edited the head,
// so the field rules are reached rather than the checksum.
void Rechecksum(std::string* rec) {
  const uint32_t head_len = util::DecodeFixed32(rec->data());
  const uint32_t crc = util::crc32c::Value(rec->data() + kOutcomeFrameSize, head_len);
  util::EncodeFixed32(rec->data() + 4, util::crc32c::Mask(crc));
}

Status DecodeAll(std::string_view in, OutcomeRecord* rec = nullptr) {
  OutcomeRecord scratch;
  uint64_t size = 0;
  return DecodeOutcome(in, rec != nullptr ? rec : &scratch, &size);
}

TEST(OutcomeRecordTest, RecordsRoundTrip) {
  for (const OutcomeRecord& r : SomeRecords()) {
    const std::string bytes = Encode(r);
    EXPECT_EQ(bytes.size(), EncodedOutcomeSize(r));
    OutcomeRecord back;
    uint64_t size = 0;
    ASSERT_OK(DecodeOutcome(bytes, &back, &size));
    EXPECT_EQ(back, r);
    EXPECT_EQ(size, bytes.size());
  }
}

TEST(OutcomeRecordTest, LargestFieldsRoundTrip) {
  OutcomeRecord r = FullRecord();
  r.error.assign(kMaxErrorBytes, 'e');
  r.result.assign(kMaxResultBytes, 'x');
  ASSERT_OK(ValidateOutcome(r));
  const std::string bytes = Encode(r);
  OutcomeRecord back;
  ASSERT_OK(DecodeAll(bytes, &back));
  EXPECT_EQ(back, r);
}

TEST(OutcomeRecordTest, LayoutIsTheDocumentedOne) {
  const OutcomeRecord r = FullRecord();
  const std::string bytes = Encode(r);
  const size_t head_len = kOutcomeHeadFixedSize + r.meta.size() + r.error.size();
  EXPECT_EQ(util::DecodeFixed32(bytes.data()), head_len);
  const char* h = bytes.data() + kOutcomeFrameSize;
  EXPECT_EQ(h[0], 1) << "version";
  EXPECT_EQ(h[1], static_cast<char>(JobState::kDead));
  EXPECT_EQ(h[2], 7) << "priority";
  EXPECT_EQ(h[3], 0) << "reserved";
  EXPECT_EQ(util::DecodeFixed64(h + 4), 42u);
  EXPECT_EQ(static_cast<uint8_t>(h[12]), r.secret[0]);
  EXPECT_EQ(util::DecodeFixed32(h + 24), 2u);
  EXPECT_EQ(util::DecodeFixed32(h + 28), 3u);
  EXPECT_EQ(util::DecodeFixed64(h + 48), r.finished_unix_ns);
  EXPECT_EQ(util::DecodeFixed32(h + 56), r.result.size());
  EXPECT_EQ(std::string(h + 64, r.meta.size()), r.meta);
  EXPECT_EQ(std::string(h + 64 + r.meta.size(), r.error.size()), r.error);
  EXPECT_EQ(bytes.substr(kOutcomeFrameSize + head_len, r.result.size()), r.result);
  std::string header;
  EncodeOutcomeFileHeader(&header);
  EXPECT_EQ(header, "TROUTC01");
  EXPECT_GE(4096u, kMaxOutcomeHeadFrame) << "a head always fits one 4 KiB read";
}

TEST(OutcomeRecordTest, TheHeadDecodesWithoutTheResult) {
  const OutcomeRecord r = Record(9, JobState::kCompleted, std::string(64 << 10, 'r'));
  const std::string bytes = Encode(r);
  const size_t head_end = kOutcomeFrameSize + kOutcomeHeadFixedSize;
  OutcomeRecord head;
  head.result = "stale";
  uint32_t result_len = 0;
  uint64_t size = 0;
  ASSERT_OK(
      DecodeOutcomeHead(std::string_view(bytes).substr(0, head_end), &head, &result_len, &size));
  EXPECT_EQ(result_len, 64u << 10);
  EXPECT_EQ(size, bytes.size());
  OutcomeRecord expected = r;
  expected.result.clear();
  EXPECT_EQ(head, expected);
  std::string result;
  ASSERT_OK(DecodeOutcomeResult(std::string_view(bytes).substr(head_end), result_len, &result));
  EXPECT_EQ(result, r.result);
  EXPECT_TRUE(DecodeOutcomeResult(std::string_view(bytes).substr(head_end, result_len + 3),
                                  result_len, &result)
                  .IsCorruption())
      << "a result cut short";
}

// Every byte of a record is under a checksum or tied to one: any flip is detected, never
// decoded as something else, and never read outside the buffer (ASan builds).
TEST(OutcomeRecordTest, EveryFlippedByteIsDetected) {
  const std::string good = Encode(FullRecord());
  const size_t head_end = util::DecodeFixed32(good.data()) + kOutcomeFrameSize;
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      const std::string in(bad);  // exact-size copy
      const Status s = DecodeAll(in);
      EXPECT_TRUE(s.IsCorruption()) << "byte " << i << " ^ " << int{flip} << ": " << s.ToString();
      OutcomeRecord head;
      uint32_t result_len = 0;
      uint64_t size = 0;
      const Status hs = DecodeOutcomeHead(in, &head, &result_len, &size);
      EXPECT_EQ(hs.ok(), i >= head_end) << "byte " << i << ": " << hs.ToString();
    }
  }
}

TEST(OutcomeRecordTest, EveryCutIsDetected) {
  const std::string good = Encode(FullRecord());
  const size_t head_end = util::DecodeFixed32(good.data()) + kOutcomeFrameSize;
  for (size_t cut = 0; cut < good.size(); ++cut) {
    const std::string in = good.substr(0, cut);
    EXPECT_TRUE(DecodeAll(in).IsCorruption()) << "cut at " << cut;
    OutcomeRecord head;
    uint32_t result_len = 0;
    uint64_t size = 0;
    EXPECT_EQ(DecodeOutcomeHead(in, &head, &result_len, &size).ok(), cut >= head_end)
        << "cut at " << cut;
  }
}

// Fields a checksum-valid head may still get wrong (a writer bug or a foreign writer).
TEST(OutcomeRecordTest, FieldRulesAreCheckedBehindTheChecksum) {
  const std::string good = Encode(FullRecord());
  const size_t h = kOutcomeFrameSize;
  struct Case {
    const char* what;
    size_t at;
    char value;
  };
  for (const Case& c :
       {Case{"version", h + 0, 2}, Case{"state queued", h + 1, 2}, Case{"state expired", h + 1, 8},
        Case{"state 200", h + 1, '\xc8'}, Case{"priority", h + 2, 10}, Case{"reserved", h + 3, 1},
        Case{"meta byte", h + 64, '\x7f'}}) {
    std::string bad = good;
    bad[c.at] = c.value;
    Rechecksum(&bad);
    EXPECT_TRUE(DecodeAll(bad).IsCorruption()) << c.what;
  }
  std::string id0 = good;
  util::EncodeFixed64(id0.data() + h + 4, 0);
  Rechecksum(&id0);
  const Status s = DecodeAll(id0);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("job id 0"), std::string::npos) << s.ToString();
}

TEST(OutcomeRecordTest, LengthsOverTheirLimitsAreCorruption) {
  // Encoded anyway (the precondition is the caller's), refused by the decoder.
  OutcomeRecord long_error = Record(1);
  long_error.error.assign(kMaxErrorBytes + 1, 'e');
  EXPECT_TRUE(DecodeAll(Encode(long_error)).IsCorruption());
  OutcomeRecord long_meta = Record(1);
  long_meta.meta.assign(kMaxMetaBytes + 1, 'm');
  EXPECT_TRUE(DecodeAll(Encode(long_meta)).IsCorruption());
  // A result length over the limit, with a valid head checksum.
  std::string big = Encode(Record(1));
  util::EncodeFixed32(big.data() + kOutcomeFrameSize + 56, kMaxResultBytes + 1);
  Rechecksum(&big);
  EXPECT_TRUE(DecodeAll(big).IsCorruption());
  // head_len disagreeing with meta_len + error_len (the head checksum over head_len bytes).
  std::string mismatch = Encode(FullRecord());
  util::EncodeFixed32(mismatch.data(), util::DecodeFixed32(mismatch.data()) - 1);
  Rechecksum(&mismatch);
  const Status s = DecodeAll(mismatch);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.ToString();
  // head_len beyond any head: refused before it is used.
  std::string huge = Encode(Record(1));
  util::EncodeFixed32(huge.data(), 0xfffffff0u);
  EXPECT_TRUE(DecodeAll(huge).IsCorruption());
}

TEST(OutcomeRecordTest, ValidateOutcomeStatesEachRule) {
  EXPECT_OK(ValidateOutcome(FullRecord()));
  for (JobState s :
       {JobState::kCompleted, JobState::kRetrying, JobState::kDead, JobState::kCancelled}) {
    EXPECT_OK(ValidateOutcome(Record(1, s)));
  }
  for (JobState s : {JobState::kUnknown, JobState::kPending, JobState::kQueued, JobState::kRunning,
                     JobState::kDelayed, JobState::kExpired}) {
    EXPECT_TRUE(ValidateOutcome(Record(1, s)).IsInvalidArgument()) << JobStateName(s);
  }
  EXPECT_TRUE(ValidateOutcome(Record(0)).IsInvalidArgument());
  OutcomeRecord r = Record(1);
  r.priority = 10;
  EXPECT_TRUE(ValidateOutcome(r).IsInvalidArgument());
  r = Record(1);
  r.meta =
      "\x05"
      "abc";
  EXPECT_TRUE(ValidateOutcome(r).IsInvalidArgument());
  r = Record(1);
  r.error.assign(kMaxErrorBytes + 1, 'e');
  EXPECT_TRUE(ValidateOutcome(r).IsInvalidArgument());
  r = Record(1);
  r.result.assign(kMaxResultBytes + 1, 'x');
  EXPECT_TRUE(ValidateOutcome(r).IsInvalidArgument());
}

TEST(OutcomeFileTest, RecordsAndOffsetsRoundTrip) {
  std::vector<uint64_t> offsets;
  const std::string file = EncodeFile(SomeRecords(), &offsets);
  std::vector<std::pair<uint64_t, OutcomeRecord>> got;
  uint64_t valid_end = 0;
  ASSERT_OK(ParseOutcomeFile(file, &got, &valid_end));
  EXPECT_EQ(valid_end, file.size());
  ASSERT_EQ(got.size(), SomeRecords().size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, offsets[i]);
    EXPECT_EQ(got[i].second, SomeRecords()[i]);
  }
}

TEST(OutcomeFileTest, ScanGivesHeadsWithoutResults) {
  std::vector<uint64_t> offsets;
  const std::string file = EncodeFile(SomeRecords(), &offsets);
  std::vector<uint64_t> seen;
  uint64_t valid_end = 0;
  ASSERT_OK(ScanOutcomeFile(
      file,
      [&](uint64_t offset, const OutcomeRecord& rec, uint64_t size) {
        seen.push_back(offset);
        EXPECT_TRUE(rec.result.empty());
        EXPECT_EQ(size, EncodedOutcomeSize(SomeRecords()[seen.size() - 1]));
      },
      &valid_end));
  EXPECT_EQ(seen, offsets);
  EXPECT_EQ(valid_end, file.size());
}

TEST(OutcomeFileTest, TornTailAtEveryCutPointOfTheLastRecord) {
  std::vector<uint64_t> offsets;
  const std::string file = EncodeFile(SomeRecords(), &offsets);
  for (size_t cut = offsets.back(); cut < file.size(); cut += 7) {
    std::vector<std::pair<uint64_t, OutcomeRecord>> got;
    uint64_t valid_end = 0;
    ASSERT_OK(ParseOutcomeFile(file.substr(0, cut), &got, &valid_end)) << "cut at " << cut;
    EXPECT_EQ(valid_end, offsets.back()) << "cut at " << cut;
    EXPECT_EQ(got.size(), offsets.size() - 1) << "cut at " << cut;
  }
}

TEST(OutcomeFileTest, DamageStopsTheParseAndTheRestCanBeCounted) {
  std::vector<uint64_t> offsets;
  std::string file = EncodeFile(SomeRecords(), &offsets);
  file[offsets[1] + kOutcomeFrameSize + 20] ^= 0x10;  // second record's secret
  std::vector<std::pair<uint64_t, OutcomeRecord>> got;
  uint64_t valid_end = 0;
  ASSERT_OK(ParseOutcomeFile(file, &got, &valid_end));
  EXPECT_EQ(valid_end, offsets[1]);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, FullRecord());
  EXPECT_EQ(CountOutcomeRecordsFrom(file, valid_end), 2u) << "the two after the damaged one";
  EXPECT_EQ(CountOutcomeRecordsFrom(file, 0), 3u);
  // A damaged result: its head is still recognisable.
  std::string bad_result = EncodeFile(SomeRecords(), &offsets);
  bad_result[offsets[3] + 200] ^= 0x01;
  ASSERT_OK(ParseOutcomeFile(bad_result, &got, &valid_end));
  EXPECT_EQ(valid_end, offsets[3]);
  EXPECT_EQ(CountOutcomeRecordsFrom(bad_result, valid_end), 1u);
  EXPECT_EQ(CountOutcomeRecordsFrom(std::string(10000, '\0'), 0), 0u);
  EXPECT_EQ(CountOutcomeRecordsFrom(std::string(10000, '\xff'), 0), 0u);
}

TEST(OutcomeFileTest, ShortFilesAndForeignHeaders) {
  std::vector<std::pair<uint64_t, OutcomeRecord>> got;
  uint64_t valid_end = 99;
  ASSERT_OK(ParseOutcomeFile("", &got, &valid_end));
  EXPECT_EQ(valid_end, 0u);
  ASSERT_OK(ParseOutcomeFile("TROU", &got, &valid_end));
  EXPECT_EQ(valid_end, 0u) << "a header cut short";
  ASSERT_OK(ParseOutcomeFile("TROUTC01", &got, &valid_end));
  EXPECT_EQ(valid_end, kOutcomeFileHeaderSize);
  EXPECT_TRUE(got.empty());
  for (const std::string& foreign :
       {std::string("TRKEYS01"), std::string("XY"), std::string("troutc01") + Encode(Record(1))}) {
    const Status s = ParseOutcomeFile(foreign, &got, &valid_end);
    EXPECT_TRUE(s.IsCorruption()) << foreign << ": " << s.ToString();
  }
  std::string v2 = EncodeFile(SomeRecords());
  v2[7] = '2';
  const Status s = ParseOutcomeFile(v2, &got, &valid_end);
  EXPECT_TRUE(s.IsIncompatible()) << s.ToString();
  EXPECT_NE(s.message().find("version 02"), std::string::npos) << s.ToString();
}

TEST(OutcomeFileTest, FileNames) {
  EXPECT_EQ(OutcomeFileName(1), "00000001.out");
  EXPECT_EQ(OutcomeFileName(123456789), "123456789.out");
  EXPECT_EQ(OutcomeFileName(UINT32_MAX), "4294967295.out");
  for (uint32_t n : {1u, 99999999u, 100000000u, UINT32_MAX}) {
    uint32_t back = 0;
    EXPECT_TRUE(ParseOutcomeFileName(OutcomeFileName(n), &back)) << n;
    EXPECT_EQ(back, n);
  }
  uint32_t n = 0;
  for (const char* name :
       {"00000000.out", "0000001.out", "000000001.out", "4294967296.out", "00000001.out.tmp",
        "0000000a.out", "00000001.OUT", "00000001", "keys", "", ".out", "-0000001.out"}) {
    EXPECT_FALSE(ParseOutcomeFileName(name, &n)) << name;
  }
}

}  // namespace
}  // namespace taskring::outcome
