#include "wal/wal_record.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "util/coding.h"

namespace taskring::wal {
namespace {

WalRecord SampleEnqueue() {
  WalRecord r;
  r.type = RecordType::kEnqueue;
  r.lsn = 42;
  r.job_id = 0x0102030405060708ull;
  r.attempt = 1;
  r.max_attempts = 5;
  r.priority = 3;
  r.enqueued_unix_ns = 1700000000123456789ull;
  r.not_before_unix_ns = 1700000001000000000ull;
  r.payload = std::string("hello\0world", 11);
  return r;
}

TEST(WalRecordTest, EnqueueRoundTrips) {
  const WalRecord in = SampleEnqueue();
  std::string buf;
  EncodeRecord(in, &buf);
  EXPECT_EQ(kEnqueueFixedSize + in.payload.size(), buf.size());
  WalRecord out;
  ASSERT_TRUE(DecodeRecord(buf, &out).ok());
  EXPECT_EQ(in, out);
}

TEST(WalRecordTest, EveryTypeRoundTripsWithEmptyPayload) {
  for (RecordType t : {RecordType::kEnqueue, RecordType::kComplete, RecordType::kRetry,
                       RecordType::kDead, RecordType::kStart, RecordType::kCancel}) {
    WalRecord in;
    in.type = t;
    in.lsn = 7;
    in.job_id = 9;
    in.attempt = 2;
    std::string buf;
    EncodeRecord(in, &buf);
    WalRecord out;
    ASSERT_TRUE(DecodeRecord(buf, &out).ok()) << RecordTypeName(t);
    EXPECT_EQ(in, out);
  }
}

TEST(WalRecordTest, EncodeAppendsToExistingBytes) {
  std::string buf = "prefix";
  EncodeRecord(SampleEnqueue(), &buf);
  EXPECT_EQ("prefix", buf.substr(0, 6));
  WalRecord out;
  EXPECT_TRUE(DecodeRecord(std::string_view(buf).substr(6), &out).ok());
}

TEST(WalRecordTest, EachTypeCarriesOnlyItsOwnFields) {
  WalRecord full = SampleEnqueue();  // every field set
  full.meta = std::string("\x04mail\x00\x00", 7);
  full.secret.fill(0x5a);
  full.event_unix_ns = 1700000003000000000ull;
  full.text = "text";
  const struct {
    RecordType type;
    size_t size;
  } kCases[] = {
      {RecordType::kEnqueue, kEnqueueFixedSize + 11 + 7},
      {RecordType::kStart, kStartFixedSize},
      {RecordType::kRetry, kRetryFixedSize + 4},
      {RecordType::kComplete, kOutcomeFixedSize + 4},
      {RecordType::kDead, kOutcomeFixedSize + 4},
      {RecordType::kCancel, kOutcomeFixedSize + 4},
  };
  for (const auto& c : kCases) {
    WalRecord in = full;
    in.type = c.type;
    std::string buf;
    EncodeRecord(in, &buf);
    EXPECT_EQ(c.size, buf.size()) << RecordTypeName(c.type);
    WalRecord out;
    ASSERT_TRUE(DecodeRecord(buf, &out).ok()) << RecordTypeName(c.type);
    EXPECT_EQ(in.lsn, out.lsn);
    EXPECT_EQ(in.job_id, out.job_id);
    EXPECT_EQ(in.attempt, out.attempt);
    const bool enqueue = c.type == RecordType::kEnqueue;
    EXPECT_EQ(enqueue ? in.payload : "", out.payload);
    EXPECT_EQ(enqueue ? in.meta : "", out.meta);
    EXPECT_EQ(enqueue ? in.secret : decltype(in.secret){}, out.secret);
    EXPECT_EQ(enqueue ? in.max_attempts : 0, out.max_attempts);
    EXPECT_EQ(enqueue ? uint64_t{0} : in.event_unix_ns, out.event_unix_ns);
    const bool has_not_before = enqueue || c.type == RecordType::kRetry;
    EXPECT_EQ(has_not_before ? in.not_before_unix_ns : 0, out.not_before_unix_ns);
    const bool has_text = !enqueue && c.type != RecordType::kStart;
    EXPECT_EQ(has_text ? in.text : "", out.text);
    // One encoding per record: what was decoded encodes to the same bytes.
    std::string again;
    EncodeRecord(out, &again);
    EXPECT_EQ(buf, again);
  }
}

TEST(WalRecordTest, MaxPayloadRoundTrips) {
  WalRecord in = SampleEnqueue();
  in.payload.assign(kMaxPayloadBytes, 'p');
  std::string buf;
  EncodeRecord(in, &buf);
  WalRecord out;
  ASSERT_TRUE(DecodeRecord(buf, &out).ok());
  EXPECT_EQ(in.payload.size(), out.payload.size());
}

TEST(WalRecordTest, UnknownVersionIsCorruption) {
  std::string buf;
  EncodeRecord(SampleEnqueue(), &buf);
  buf[0] = static_cast<char>(kRecordFormatVersion + 1);
  WalRecord out;
  Status s = DecodeRecord(buf, &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.ToString().find("version"));
}

TEST(WalRecordTest, UnknownTypeIsCorruption) {
  for (int type : {0, 7, 255}) {
    std::string buf;
    EncodeRecord(SampleEnqueue(), &buf);
    buf[1] = static_cast<char>(type);
    WalRecord out;
    EXPECT_TRUE(DecodeRecord(buf, &out).IsCorruption()) << type;
  }
}

TEST(WalRecordTest, EveryTruncationIsCorruption) {
  std::string buf;
  EncodeRecord(SampleEnqueue(), &buf);
  for (size_t n = 0; n < buf.size(); ++n) {
    WalRecord out;
    EXPECT_TRUE(DecodeRecord(std::string_view(buf).substr(0, n), &out).IsCorruption()) << n;
  }
}

TEST(WalRecordTest, TrailingBytesAreCorruption) {
  std::string buf;
  EncodeRecord(SampleEnqueue(), &buf);
  buf.push_back('x');
  WalRecord out;
  EXPECT_TRUE(DecodeRecord(buf, &out).IsCorruption());
}

TEST(WalRecordTest, HugePayloadLengthIsCorruptionNotACrash) {
  std::string buf;
  EncodeRecord(SampleEnqueue(), &buf);
  buf.resize(kEnqueueFixedSize);
  for (size_t i = kRecordHeadSize + 25; i < kRecordHeadSize + 29; ++i) buf[i] = '\xff';
  WalRecord out;
  EXPECT_TRUE(DecodeRecord(buf, &out).IsCorruption());
}

TEST(WalRecordTest, AnEnqueueRelabelledAsAnotherTypeIsCorruption) {
  for (RecordType t : {RecordType::kComplete, RecordType::kRetry, RecordType::kDead,
                       RecordType::kStart, RecordType::kCancel}) {
    std::string buf;
    EncodeRecord(SampleEnqueue(), &buf);
    buf[1] = static_cast<char>(t);
    WalRecord out;
    EXPECT_TRUE(DecodeRecord(buf, &out).IsCorruption()) << RecordTypeName(t);
  }
}

TEST(WalRecordTest, APriorityOverNineIsCorruption) {
  std::string buf;
  EncodeRecord(SampleEnqueue(), &buf);
  buf[kRecordHeadSize + 4] = 10;
  WalRecord out;
  EXPECT_TRUE(DecodeRecord(buf, &out).IsCorruption());
}

TEST(WalRecordTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(11);
  WalRecord out;
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string buf(rng() % 120, '\0');
    for (char& c : buf) c = static_cast<char>(rng());
    if (i % 2 == 0 && buf.size() >= 2) {  // make half of them get past the first checks
      buf[0] = static_cast<char>(kRecordFormatVersion);
      buf[1] = static_cast<char>(1 + rng() % 6);
    }
    if (DecodeRecord(buf, &out).ok()) ++accepted;
  }
  // Random lengths almost never match the buffer; anything accepted decoded within bounds.
  EXPECT_LT(accepted, 100);
}

}  // namespace
}  // namespace taskring::wal

namespace taskring::wal {
namespace {

TEST(WalRecordTest, OutcomesCarryTheirTextAndTimeAndEnqueuesTheirSecret) {
  WalRecord enq = SampleEnqueue();
  for (size_t i = 0; i < enq.secret.size(); ++i) enq.secret[i] = static_cast<uint8_t>(0xa0 + i);
  std::string buf;
  EncodeRecord(enq, &buf);
  WalRecord out;
  ASSERT_TRUE(DecodeRecord(buf, &out).ok());
  EXPECT_EQ(out, enq);
  for (RecordType t :
       {RecordType::kComplete, RecordType::kRetry, RecordType::kDead, RecordType::kCancel}) {
    WalRecord in;
    in.type = t;
    in.job_id = 9;
    in.attempt = 2;
    in.event_unix_ns = 1700000002000000000ull;
    in.text = std::string("result\0bytes\xff", 13);
    buf.clear();
    EncodeRecord(in, &buf);
    EXPECT_EQ((t == RecordType::kRetry ? kRetryFixedSize : kOutcomeFixedSize) + in.text.size(),
              buf.size());
    ASSERT_TRUE(DecodeRecord(buf, &out).ok()) << RecordTypeName(t);
    EXPECT_EQ(out, in);
  }
}

TEST(WalRecordTest, TextIsWrittenOnlyForOutcomes) {
  for (RecordType t : {RecordType::kEnqueue, RecordType::kStart}) {
    WalRecord in;
    in.type = t;
    in.job_id = 3;
    in.text = "ignored";
    std::string buf;
    EncodeRecord(in, &buf);
    WalRecord out;
    ASSERT_TRUE(DecodeRecord(buf, &out).ok()) << RecordTypeName(t);
    EXPECT_TRUE(out.text.empty());
  }
}

TEST(WalRecordTest, ATextLengthThatDoesNotMatchIsCorruption) {
  WalRecord in;
  in.type = RecordType::kComplete;
  in.job_id = 3;
  in.text = "abc";
  std::string buf;
  EncodeRecord(in, &buf);
  for (uint8_t len : {0, 2, 4, 0xff}) {
    std::string bad = buf;
    bad[kOutcomeFixedSize - 4] = static_cast<char>(len);
    WalRecord out;
    EXPECT_TRUE(DecodeRecord(bad, &out).IsCorruption()) << int{len};
  }
}

// Versions 2 and 3 (before the compact version 4): fixed width, every field on every record. A
// WAL written before an upgrade still replays.
std::string FixedWidthEnqueue(uint8_t version, const WalRecord& r) {
  std::string b;
  b.push_back(static_cast<char>(version));
  b.push_back(static_cast<char>(r.type));
  util::PutFixed64(&b, r.lsn);
  util::PutFixed64(&b, r.job_id);
  util::PutFixed32(&b, r.attempt);
  util::PutFixed32(&b, r.max_attempts);
  util::PutFixed32(&b, r.priority);
  util::PutFixed64(&b, r.enqueued_unix_ns);
  util::PutFixed64(&b, r.not_before_unix_ns);
  util::PutFixed32(&b, static_cast<uint32_t>(r.payload.size()));
  util::PutFixed32(&b, r.timeout_ms);
  b.append(2, '\0');  // meta_len
  if (version == 3) {
    b.append(reinterpret_cast<const char*>(r.secret.data()), r.secret.size());
    b.append(8 + 4, '\0');  // event time, text length
  }
  return b + r.payload;
}

// An old writer's fields on a type that does not use them read zero, as in version 4, so the
// record is the same after a re-log.
TEST(WalRecordTest, OldRecordsReadOnlyTheFieldsTheirTypeUses) {
  WalRecord in = SampleEnqueue();
  in.payload.clear();
  in.timeout_ms = 9;
  for (RecordType t : {RecordType::kComplete, RecordType::kRetry, RecordType::kStart}) {
    in.type = t;
    WalRecord out;
    ASSERT_TRUE(DecodeRecord(FixedWidthEnqueue(2, in), &out).ok()) << RecordTypeName(t);
    EXPECT_EQ(out.max_attempts, 0u);
    EXPECT_EQ(out.priority, 0u);
    EXPECT_EQ(out.enqueued_unix_ns, 0u);
    EXPECT_EQ(out.timeout_ms, 0u);
    EXPECT_EQ(out.not_before_unix_ns, t == RecordType::kRetry ? in.not_before_unix_ns : 0u);
    std::string v4;
    EncodeRecord(out, &v4);
    WalRecord again;
    ASSERT_TRUE(DecodeRecord(v4, &again).ok());
    EXPECT_EQ(again, out);
  }
}

TEST(WalRecordTest, VersionTwoAndThreeRecordsAreStillRead) {
  WalRecord in = SampleEnqueue();
  in.timeout_ms = 1500;
  in.secret.fill(0x11);
  for (uint8_t version : {2, 3}) {
    const std::string bytes = FixedWidthEnqueue(version, in);
    EXPECT_EQ((version == 2 ? kRecordFixedSizeV2 : kRecordFixedSizeV3) + in.payload.size(),
              bytes.size());
    WalRecord out;
    ASSERT_TRUE(DecodeRecord(bytes, &out).ok()) << int{version};
    WalRecord expected = in;
    if (version == 2) expected.secret.fill(0);  // no token secret before version 3
    EXPECT_EQ(expected, out) << int{version};
  }
}

}  // namespace
}  // namespace taskring::wal
