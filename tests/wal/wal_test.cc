// WalWriter + ReplayWal/VerifyWal end to end on real files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "io/env.h"
#include "io/fault_injection_env.h"
#include "io/mem_env.h"
#include "test_util.h"
#include "wal/wal_format.h"
#include "wal/wal_reader.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_segment_parser.h"
#include "wal/wal_test_util.h"
#include "wal/wal_writer.h"

namespace taskring::wal {
namespace {

using ::taskring::test::TempDir;
using testutil::FileSize;
using testutil::FlipByte;
using testutil::ReadFileBytes;
using testutil::WriteFileBytes;
using Fault = io::FaultInjectionEnv::Fault;
using FaultOp = io::FaultInjectionEnv::Op;

WalRecord MakeRecord(uint64_t job_id, size_t payload_size) {
  WalRecord r;
  // Only enqueue records carry a payload.
  r.type = payload_size > 0 ? RecordType::kEnqueue : static_cast<RecordType>(1 + job_id % 4);
  r.job_id = job_id;
  r.attempt = static_cast<uint32_t>(job_id % 3);
  if (r.type == RecordType::kEnqueue) {
    r.max_attempts = 5;
    r.priority = static_cast<uint32_t>(job_id % 7);
    r.enqueued_unix_ns = 1700000000000000000ull + job_id;
    r.not_before_unix_ns = job_id % 2 ? 0 : 1700000000500000000ull;
    r.payload.resize(payload_size);
    for (size_t i = 0; i < payload_size; ++i) {
      r.payload[i] = static_cast<char>((job_id * 131 + i * 7) & 0xff);
    }
  }
  return r;
}

// Files as the writer made them before segments were zero-filled ahead (and as it still does
// with prewrite_bytes = 0): each ends at its last record. Most tests below work on exact byte
// offsets, and readers must keep replaying such files.
WalWriterOptions AppendOnly() {
  WalWriterOptions options;
  options.prewrite_bytes = 0;
  return options;
}

// Writes records with one Flush+Sync per `batch`; fills in their LSNs.
void WriteRecords(const std::string& dir, std::vector<WalRecord>* records,
                  const WalWriterOptions& options = AppendOnly(), uint64_t next_lsn = 1,
                  size_t batch = 50) {
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir, options, next_lsn, &writer));
  for (size_t i = 0; i < records->size(); ++i) {
    writer->Add((*records)[i]);
    if ((i + 1) % batch == 0) {
      ASSERT_OK(writer->Flush());
    }
  }
  ASSERT_OK(writer->Flush());
  ASSERT_OK(writer->Sync());
  EXPECT_EQ(0u, writer->buffered_bytes());
}

Status ReadAll(const std::string& dir, std::vector<WalRecord>* out, ReplayReport* report,
               const ReplayOptions& options = {}) {
  out->clear();
  return ReplayWal(
      dir, options,
      [out](const WalRecord& r) {
        out->push_back(r);
        return Status::OK();
      },
      report);
}

std::vector<SegmentFile> Segments(const std::string& dir) {
  std::vector<SegmentFile> segments;
  EXPECT_TRUE(ListSegments(dir, &segments).ok());
  return segments;
}

std::vector<SegmentFile> Segments(io::Env* env, const std::string& dir) {
  std::vector<SegmentFile> segments;
  EXPECT_TRUE(ListSegments(dir, &segments, env).ok());
  return segments;
}

struct Extent {
  uint64_t offset, end;
};

// Where each complete record of a segment file lies.
std::vector<Extent> RecordExtents(const std::string& path) {
  const std::string bytes = ReadFileBytes(path);
  SegmentParser parser(bytes);
  SegmentParser::Item item;
  std::vector<Extent> extents;
  while (parser.Next(&item)) {
    if (item.zeroed && item.kind == SegmentParser::Item::Kind::kDamage) continue;  // ahead
    EXPECT_EQ(SegmentParser::Item::Kind::kRecord, item.kind) << item.reason;
    extents.push_back({item.offset, item.end});
  }
  return extents;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(WalTest, RoundTripsManyRecordsIncludingMultiBlockAndEmptyPayloads) {
  TempDir dir;
  std::vector<WalRecord> records;
  const size_t exact_fit = kBlockSize - kHeaderSize - kEnqueueFixedSize;
  const size_t sizes[] = {
      0, 1, 100, exact_fit - 1, exact_fit, exact_fit + 1, 3 * kBlockSize + 17, 200000, 0, 0};
  uint64_t id = 0;
  for (size_t s : sizes) records.push_back(MakeRecord(id += 4, s));  // id % 4 == 0: enqueue
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) records.push_back(MakeRecord(++id, rng() % 3000));
  records.push_back(MakeRecord(1000000, kMaxPayloadBytes));
  WriteRecords(dir.path(), &records);

  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  ASSERT_EQ(records.size(), got.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(i + 1, got[i].lsn);
    ASSERT_EQ(records[i], got[i]) << i;
  }
  EXPECT_EQ(records.size(), report.records);
  EXPECT_EQ(records.size(), report.last_lsn);
  EXPECT_EQ(1u, report.segments);
  EXPECT_EQ(1u, report.highest_segment);
  EXPECT_EQ(0u, report.torn_tail_bytes);
  EXPECT_TRUE(report.problems.empty());
}

TEST(WalTest, AddAssignsLsnsAndBuffersWithoutWriting) {
  TempDir dir;
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir.path(), AppendOnly(), 100, &writer));
  WalRecord a = MakeRecord(1, 0), b = MakeRecord(4, 10);
  EXPECT_EQ(100u, writer->Add(a));
  EXPECT_EQ(101u, writer->Add(b));
  EXPECT_EQ(100u, a.lsn);
  EXPECT_EQ(101u, b.lsn);
  EXPECT_EQ(102u, writer->next_lsn());
  const std::string path = SegmentPath(dir.path(), 1);
  EXPECT_EQ(0u, FileSize(path));
  EXPECT_GT(writer->buffered_bytes(), 0u);
  const size_t buffered = writer->buffered_bytes();
  ASSERT_OK(writer->Flush());
  EXPECT_EQ(0u, writer->buffered_bytes());
  EXPECT_EQ(buffered, FileSize(path));
  EXPECT_EQ(buffered, writer->bytes_written());
  EXPECT_EQ(0u, writer->syncs());
  ASSERT_OK(writer->Sync());
  EXPECT_EQ(1u, writer->syncs());
}

TEST(WalTest, FirstSegmentIsNamedWithTwentyDigits) {
  TempDir dir;
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir.path(), {}, 1, &writer));
  EXPECT_EQ(1u, writer->current_segment());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/wal-00000000000000000001.log"));
}

TEST(WalTest, NewSegmentsGetTheRequestedFileMode) {
  TempDir dir;
  WalWriterOptions options;
  options.file_mode = 0640;
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir.path(), options, 1, &writer));
  struct stat st;
  ASSERT_EQ(0, ::stat(SegmentPath(dir.path(), 1).c_str(), &st));
  EXPECT_EQ(0640u, st.st_mode & 0777);
}

TEST(WalTest, RotatesAcrossSegmentsAndReplaysInOrder) {
  TempDir dir;
  WalWriterOptions options = AppendOnly();
  options.segment_bytes = 64 << 10;
  std::vector<WalRecord> records;
  std::mt19937_64 rng(6);
  for (int i = 0; i < 1500; ++i) records.push_back(MakeRecord(i, rng() % 2000));
  records.push_back(MakeRecord(4000, 100000));  // one record larger than a segment
  for (int i = 0; i < 10; ++i) records.push_back(MakeRecord(5000 + i, 10));

  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir.path(), options, 1, &writer));
  for (size_t i = 0; i < records.size(); ++i) {
    writer->Add(records[i]);
    if (i % 37 == 0) {
      ASSERT_OK(writer->Flush());
    }
  }
  ASSERT_OK(writer->Flush());
  ASSERT_OK(writer->Sync());
  const auto segments = Segments(dir.path());
  ASSERT_GT(segments.size(), 5u);
  EXPECT_EQ(segments.back().number, writer->current_segment());
  EXPECT_GE(writer->syncs(), segments.size());  // every rotation synced the old segment
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    // Rotation happens between records: a segment exceeds the limit by at most one record.
    EXPECT_GE(FileSize(segments[i].path), options.segment_bytes) << segments[i].path;
    EXPECT_EQ(segments[i].number, i + 1);
  }
  uint64_t total = 0;
  for (const auto& s : segments) total += FileSize(s.path);
  EXPECT_EQ(total, writer->bytes_written());
  writer.reset();

  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  ASSERT_EQ(records.size(), got.size());
  for (size_t i = 0; i < records.size(); ++i) ASSERT_EQ(records[i], got[i]) << i;
  EXPECT_EQ(segments.size(), report.segments);
  EXPECT_EQ(segments.back().number, report.highest_segment);
}

TEST(WalTest, ReopenStartsANewSegmentAndLsnsContinue) {
  TempDir dir;
  std::vector<WalRecord> first;
  for (int i = 0; i < 10; ++i) first.push_back(MakeRecord(i, 50));
  WriteRecords(dir.path(), &first);
  const uint64_t size_before = FileSize(SegmentPath(dir.path(), 1));

  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  ASSERT_EQ(10u, report.last_lsn);

  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir.path(), {}, report.last_lsn + 1, &writer));
  EXPECT_EQ(2u, writer->current_segment());
  std::vector<WalRecord> second;
  for (int i = 0; i < 5; ++i) {
    second.push_back(MakeRecord(100 + i, 20));
    EXPECT_EQ(11u + i, writer->Add(second.back()));
  }
  ASSERT_OK(writer->Flush());
  writer.reset();
  EXPECT_EQ(size_before, FileSize(SegmentPath(dir.path(), 1)));  // old file untouched

  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  ASSERT_EQ(15u, got.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(i + 1, got[i].lsn);
  EXPECT_EQ(2u, report.segments);
  EXPECT_EQ(15u, report.last_lsn);
}

TEST(WalTest, MissingDirIsNotFound) {
  TempDir dir;
  std::vector<WalRecord> got;
  ReplayReport report;
  EXPECT_TRUE(ReadAll(dir.path() + "/nope", &got, &report).IsNotFound());
  EXPECT_TRUE(VerifyWal(dir.path() + "/nope", &report).IsNotFound());
}

TEST(WalTest, EmptyDirReplaysNoRecords) {
  TempDir dir;
  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  EXPECT_EQ(0u, report.records);
  EXPECT_EQ(0u, report.segments);
  ASSERT_OK(VerifyWal(dir.path(), &report));
}

TEST(WalTest, FilesThatAreNotSegmentsAreIgnored) {
  TempDir dir;
  WriteFileBytes(dir.path() + "/wal-1.log", "garbage");
  WriteFileBytes(dir.path() + "/notes.txt", "garbage");
  WriteFileBytes(dir.path() + "/wal-0000000000000000000x.log", "garbage");
  std::vector<WalRecord> records = {MakeRecord(1, 5)};
  WriteRecords(dir.path(), &records);
  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  EXPECT_EQ(1u, got.size());
  EXPECT_EQ(1u, report.segments);
}

TEST(WalTest, UnwritableDirIsIOErrorNamingThePath) {
  TempDir dir;
  const std::string file = dir.path() + "/plain";
  WriteFileBytes(file, "x");
  std::unique_ptr<WalWriter> writer;
  Status s = WalWriter::Open(file + "/sub", {}, 1, &writer);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), file + "/sub")) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), std::strerror(ENOTDIR))) << s.ToString();
  EXPECT_EQ(nullptr, writer);

  s = WalWriter::Open(dir.path() + "/missing", {}, 1, &writer);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), dir.path() + "/missing")) << s.ToString();
}

TEST(WalTest, ReadOnlyDirIsIOErrorNamingTheSegment) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir dir;
  ASSERT_EQ(0, ::chmod(dir.path().c_str(), 0500));
  std::unique_ptr<WalWriter> writer;
  Status s = WalWriter::Open(dir.path(), {}, 1, &writer);
  ::chmod(dir.path().c_str(), 0700);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "cannot create WAL segment " + SegmentPath(dir.path(), 1) +
                                         ": Permission denied"))
      << s.ToString();
}

// Records with small payloads, then one record that straddles a block boundary.
struct TornFixture {
  std::vector<WalRecord> records;
  std::string path;
  std::string bytes;  // the intact file
  uint64_t prev_end;  // end of the second-to-last record
};

void MakeTornFixture(const std::string& dir, TornFixture* f) {
  // 55 records of 587 bytes end at 32285, so the 3087-byte record crosses into block 1.
  for (int i = 0; i < 55; ++i) f->records.push_back(MakeRecord(i, 500));
  f->records.push_back(MakeRecord(1000, 3000));
  WriteRecords(dir, &f->records);
  f->path = SegmentPath(dir, 1);
  f->bytes = ReadFileBytes(f->path);
  const auto extents = RecordExtents(f->path);
  ASSERT_EQ(f->records.size(), extents.size());
  f->prev_end = extents[extents.size() - 2].end;
  ASSERT_EQ(f->bytes.size(), extents.back().end);
  // The last record must cross a block boundary for the test to cover FIRST/LAST tears.
  ASSERT_LT(extents.back().offset / kBlockSize, (extents.back().end - 1) / kBlockSize);
}

bool AllZero(const std::string& s) { return s.find_first_not_of('\0') == std::string::npos; }

TEST(WalTest, TruncatedTrailingRecordIsIgnoredAndCutOff) {
  TempDir dir;
  TornFixture f;
  ASSERT_NO_FATAL_FAILURE(MakeTornFixture(dir.path(), &f));
  for (uint64_t cut = f.prev_end; cut < f.bytes.size(); ++cut) {
    WriteFileBytes(f.path, f.bytes.substr(0, cut));
    std::vector<WalRecord> got;
    ReplayReport report;
    ASSERT_OK(ReadAll(dir.path(), &got, &report));
    ASSERT_EQ(f.records.size() - 1, got.size()) << "cut=" << cut;
    EXPECT_EQ(f.records[got.size() - 1], got.back());
    // Only zero padding past the last record is a clean end, not a tear.
    const bool zero_tail = AllZero(f.bytes.substr(f.prev_end, cut - f.prev_end));
    if (zero_tail) {
      EXPECT_EQ(0u, report.torn_tail_bytes) << "cut=" << cut;
      EXPECT_EQ(cut, FileSize(f.path));
    } else {
      EXPECT_EQ(cut - f.prev_end, report.torn_tail_bytes) << "cut=" << cut;
      EXPECT_EQ(f.path, report.torn_tail_file);
      EXPECT_EQ(f.prev_end, FileSize(f.path)) << "cut=" << cut;
    }
    EXPECT_TRUE(report.problems.empty());

    ASSERT_OK(ReadAll(dir.path(), &got, &report));
    EXPECT_EQ(f.records.size() - 1, got.size());
    EXPECT_EQ(0u, report.torn_tail_bytes) << "cut=" << cut;
  }
}

TEST(WalTest, TornTailIsKeptWhenTruncationIsOff) {
  TempDir dir;
  TornFixture f;
  ASSERT_NO_FATAL_FAILURE(MakeTornFixture(dir.path(), &f));
  WriteFileBytes(f.path, f.bytes.substr(0, f.bytes.size() - 10));
  std::vector<WalRecord> got;
  ReplayReport report;
  ReplayOptions options;
  options.truncate_torn_tail = false;
  ASSERT_OK(ReadAll(dir.path(), &got, &report, options));
  EXPECT_EQ(f.records.size() - 1, got.size());
  EXPECT_GT(report.torn_tail_bytes, 0u);
  EXPECT_EQ(f.bytes.size() - 10, FileSize(f.path));
}

TEST(WalTest, ChecksumFailureInLastRecordIsATornTail) {
  TempDir dir;
  TornFixture f;
  ASSERT_NO_FATAL_FAILURE(MakeTornFixture(dir.path(), &f));
  FlipByte(f.path, f.bytes.size() - 5);  // in the LAST fragment
  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  EXPECT_EQ(f.records.size() - 1, got.size());
  EXPECT_EQ(f.bytes.size() - f.prev_end, report.torn_tail_bytes);
  EXPECT_EQ(f.prev_end, FileSize(f.path));
}

TEST(WalTest, ZeroFilledTailIsACleanEnd) {
  TempDir dir;
  std::vector<WalRecord> records;
  for (int i = 0; i < 30; ++i) records.push_back(MakeRecord(i, 300));
  WriteRecords(dir.path(), &records);
  const std::string path = SegmentPath(dir.path(), 1);
  const std::string bytes = ReadFileBytes(path);
  WriteFileBytes(path, bytes + std::string(100000, '\0'));  // e.g. preallocated space

  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  EXPECT_EQ(records.size(), got.size());
  EXPECT_EQ(0u, report.torn_tail_bytes);
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(bytes.size() + 100000, FileSize(path));
}

TEST(WalTest, ChecksumFailureFollowedByValidRecordsIsCorruption) {
  TempDir dir;
  std::vector<WalRecord> records;
  for (int i = 0; i < 200; ++i) records.push_back(MakeRecord(i, 400));
  WriteRecords(dir.path(), &records);
  const std::string path = SegmentPath(dir.path(), 1);
  const auto extents = RecordExtents(path);
  FlipByte(path, extents[3].offset + 20);

  std::vector<WalRecord> got;
  ReplayReport report;
  Status s = ReadAll(dir.path(), &got, &report);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "wal-00000000000000000001.log:" +
                                         std::to_string(extents[3].offset) + ": checksum"))
      << s.ToString();
  EXPECT_EQ(3u, got.size());  // everything before the damage was delivered, nothing after
}

// Several segments of small records.
void MakeSegments(const std::string& dir, std::vector<WalRecord>* records) {
  WalWriterOptions options = AppendOnly();
  options.segment_bytes = 100000;
  for (int i = 0; i < 900; ++i) records->push_back(MakeRecord(i, 300));
  WriteRecords(dir, records, options);
  ASSERT_GE(Segments(dir).size(), 3u);
}

TEST(WalTest, BitFlipInNonLastSegmentIsCorruptionWithFileAndOffset) {
  TempDir dir;
  std::vector<WalRecord> records;
  ASSERT_NO_FATAL_FAILURE(MakeSegments(dir.path(), &records));
  const std::string path = SegmentPath(dir.path(), 1);
  const auto extents = RecordExtents(path);
  // A record in the middle of the second block.
  size_t victim = 0;
  while (extents[victim].offset < kBlockSize + 5000) ++victim;
  FlipByte(path, extents[victim].offset + kHeaderSize + 30);

  std::vector<WalRecord> got;
  ReplayReport report;
  Status s = ReadAll(dir.path(), &got, &report);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  const std::string where = path + ":" + std::to_string(extents[victim].offset) + ": ";
  EXPECT_TRUE(Contains(s.ToString(), where)) << s.ToString();
  EXPECT_EQ(victim, got.size());

  // Salvage drops the damaged record only (its length field was intact) and carries on.
  ReplayOptions salvage;
  salvage.salvage = true;
  ASSERT_OK(ReadAll(dir.path(), &got, &report, salvage));
  ASSERT_EQ(1u, report.problems.size());
  EXPECT_TRUE(Contains(report.problems[0], where)) << report.problems[0];
  EXPECT_EQ(records.size() - 1, got.size());
  EXPECT_EQ(records[victim + 1], got[victim]);
  EXPECT_EQ(records.back(), got.back());
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1].lsn, got[i].lsn);
}

TEST(WalTest, TornTailInNonLastSegmentIsCorruption) {
  TempDir dir;
  std::vector<WalRecord> records;
  ASSERT_NO_FATAL_FAILURE(MakeSegments(dir.path(), &records));
  const std::string path = SegmentPath(dir.path(), 1);
  const std::string bytes = ReadFileBytes(path);
  WriteFileBytes(path, bytes.substr(0, bytes.size() - 3));
  std::vector<WalRecord> got;
  ReplayReport report;
  Status s = ReadAll(dir.path(), &got, &report);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), path + ":")) << s.ToString();
  EXPECT_EQ(bytes.size() - 3, FileSize(path));  // never truncated
}

TEST(WalTest, TrailingEmptySegmentKeepsTheTornOneLast) {
  TempDir dir;
  TornFixture f;
  ASSERT_NO_FATAL_FAILURE(MakeTornFixture(dir.path(), &f));
  WriteFileBytes(f.path, f.bytes.substr(0, f.bytes.size() - 10));
  // A writer opened and died before writing anything.
  WriteFileBytes(SegmentPath(dir.path(), 2), "");
  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  EXPECT_EQ(f.records.size() - 1, got.size());
  EXPECT_EQ(f.path, report.torn_tail_file);
  EXPECT_EQ(2u, report.highest_segment);
}

TEST(WalTest, VerifyReportsTheFirstCorruptOffsetAndNeverModifiesFiles) {
  TempDir dir;
  std::vector<WalRecord> records;
  ASSERT_NO_FATAL_FAILURE(MakeSegments(dir.path(), &records));
  const auto segments = Segments(dir.path());
  const std::string last = segments.back().path;
  const std::string last_bytes = ReadFileBytes(last);
  WriteFileBytes(last, last_bytes.substr(0, last_bytes.size() - 7));  // torn tail

  ReplayReport report;
  ASSERT_OK(VerifyWal(dir.path(), &report));
  EXPECT_EQ(records.size() - 1, report.records);
  EXPECT_GT(report.torn_tail_bytes, 0u);
  EXPECT_EQ(last_bytes.size() - 7, FileSize(last));

  const std::string path = segments[1].path;
  const auto extents = RecordExtents(path);
  FlipByte(path, extents[10].offset + 2);  // in the CRC itself
  const std::string damaged = ReadFileBytes(path);
  Status s = VerifyWal(dir.path(), &report);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), path + ":" + std::to_string(extents[10].offset) + ":"))
      << s.ToString();
  EXPECT_EQ(damaged, ReadFileBytes(path));
  EXPECT_EQ(last_bytes.size() - 7, FileSize(last));
}

TEST(WalTest, LsnsThatDoNotIncreaseAreCorruption) {
  TempDir dir;
  std::vector<WalRecord> a = {MakeRecord(1, 1), MakeRecord(2, 2), MakeRecord(3, 3)};
  WriteRecords(dir.path(), &a, {}, /*next_lsn=*/10);
  std::vector<WalRecord> b = {MakeRecord(4, 1), MakeRecord(5, 2)};
  WriteRecords(dir.path(), &b, {}, /*next_lsn=*/12);  // 12 repeats, 13 is fine

  std::vector<WalRecord> got;
  ReplayReport report;
  Status s = ReadAll(dir.path(), &got, &report);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "wal-00000000000000000002.log:0: LSN 12")) << s.ToString();

  ReplayOptions salvage;
  salvage.salvage = true;
  ASSERT_OK(ReadAll(dir.path(), &got, &report, salvage));
  ASSERT_EQ(4u, got.size());
  EXPECT_EQ(13u, got.back().lsn);
  EXPECT_EQ(1u, report.problems.size());
}

TEST(WalTest, CallbackErrorStopsReplayAndIsReturned) {
  TempDir dir;
  std::vector<WalRecord> records;
  for (int i = 0; i < 10; ++i) records.push_back(MakeRecord(i, 10));
  WriteRecords(dir.path(), &records);
  int calls = 0;
  ReplayReport report;
  Status s = ReplayWal(
      dir.path(), {},
      [&calls](const WalRecord& r) {
        return ++calls == 4 ? Status::InvalidArgument("stop") : Status::OK();
      },
      &report);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(4, calls);
  EXPECT_EQ(3u, report.records);
}

// --- failure injection (io::FaultInjectionEnv over the real file system) ---

class WalFaultTest : public ::testing::Test {
 protected:
  WalWriterOptions Options() {
    WalWriterOptions options = AppendOnly();
    options.env = &env_;
    return options;
  }
  ReplayOptions ReadOptions() {
    ReplayOptions options;
    options.env = &env_;
    return options;
  }

  TempDir dir_;
  io::FaultInjectionEnv env_{io::Env::Default()};
};

TEST_F(WalFaultTest, FlushFailureKeepsBufferedBytesAndRetrySucceeds) {
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir_.path(), Options(), 1, &writer));
  std::vector<WalRecord> records;
  for (int i = 0; i < 5; ++i) records.push_back(MakeRecord(i, 1000));
  for (int i = 0; i < 3; ++i) writer->Add(records[i]);
  ASSERT_OK(writer->Flush());
  const std::string path = SegmentPath(dir_.path(), 1);
  const uint64_t good_size = FileSize(path);
  for (int i = 3; i < 5; ++i) writer->Add(records[i]);
  const size_t buffered = writer->buffered_bytes();

  // Half of the new bytes reach the file, then the disk is full.
  env_.Inject(Fault(FaultOp::kWrite).Times(1).Error(ENOSPC).PartialBytes(1500));
  Status s = writer->Flush();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(
      Contains(s.ToString(), "cannot write WAL segment " + path + ": " + std::strerror(ENOSPC)))
      << s.ToString();
  EXPECT_EQ(1, env_.injected_failures());
  EXPECT_EQ(buffered, writer->buffered_bytes());
  EXPECT_EQ(good_size, FileSize(path));  // partial tail cut off
  EXPECT_EQ(good_size, writer->bytes_written());

  // A reader in between sees a clean file.
  ReplayReport report;
  ASSERT_OK(VerifyWal(dir_.path(), &report));
  EXPECT_EQ(3u, report.records);
  EXPECT_EQ(0u, report.torn_tail_bytes);

  ASSERT_OK(writer->Flush());  // the fault fired once: space is back
  EXPECT_EQ(0u, writer->buffered_bytes());
  ASSERT_OK(writer->Sync());
  writer.reset();
  std::vector<WalRecord> got;
  ASSERT_OK(ReadAll(dir_.path(), &got, &report));
  ASSERT_EQ(records.size(), got.size());
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i], got[i]);
}

TEST_F(WalFaultTest, SyncFailureIsStickyAndNamesTheSegment) {
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir_.path(), Options(), 1, &writer));
  WalRecord r = MakeRecord(1, 10);
  writer->Add(r);
  ASSERT_OK(writer->Flush());
  env_.Inject(Fault(FaultOp::kSync).Times(1));
  Status s = writer->Sync();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "cannot sync WAL segment " + SegmentPath(dir_.path(), 1)))
      << s.ToString();
  EXPECT_EQ(0u, writer->syncs());
  // The fault is spent, but a retried fsync could falsely succeed after the kernel dropped the
  // pages: stay failed.
  EXPECT_TRUE(writer->Sync().IsIOError());
  EXPECT_TRUE(writer->sync_failed());
  writer->Add(r);
  EXPECT_TRUE(writer->Flush().IsIOError());
}

TEST_F(WalFaultTest, RotationWaitsForTheOldSegmentToSync) {
  WalWriterOptions options = Options();
  options.segment_bytes = 1000;
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir_.path(), options, 1, &writer));
  WalRecord a = MakeRecord(1, 2000), b = MakeRecord(2, 10);
  writer->Add(a);
  writer->Add(b);  // goes to segment 2
  env_.Inject(Fault(FaultOp::kSync));
  EXPECT_TRUE(writer->Flush().IsIOError());
  EXPECT_EQ(1u, writer->current_segment());
  EXPECT_FALSE(std::filesystem::exists(SegmentPath(dir_.path(), 2)));
}

TEST_F(WalFaultTest, FailedDirectorySyncAfterCreatingASegmentIsSticky) {
  env_.Inject(Fault(FaultOp::kSyncDir).Times(1));
  std::unique_ptr<WalWriter> writer;
  Status s = WalWriter::Open(dir_.path(), Options(), 1, &writer);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "cannot sync WAL directory " + dir_.path())) << s.ToString();

  // At a rotation: the writer refuses from then on, even once the directory syncs again.
  env_.ClearFaults();
  WalWriterOptions options = Options();
  options.segment_bytes = 1000;
  ASSERT_OK(WalWriter::Open(dir_.path(), options, 1, &writer));
  WalRecord a = MakeRecord(1, 2000), b = MakeRecord(2, 10);
  writer->Add(a);
  writer->Add(b);
  env_.Inject(Fault(FaultOp::kSyncDir).Times(1));
  EXPECT_TRUE(writer->Flush().IsIOError());
  EXPECT_TRUE(writer->sync_failed());
  EXPECT_TRUE(writer->Sync().IsIOError());
}

// --- power loss (FaultInjectionEnv::DropUnsyncedData), no process is killed ---

// Writes `n` records through a writer on env, flushing each and syncing after every
// `sync_every`; the last ones are flushed (in the kernel) but never synced. Returns the records
// that a successful sync covered: an explicit Sync(), or the one a rotation makes of the old
// segment before it creates the next.
std::vector<WalRecord> WriteThenLosePower(io::FaultInjectionEnv* env, const std::string& dir, int n,
                                          int sync_every, uint64_t segment_bytes) {
  WalWriterOptions options;
  options.env = env;
  options.segment_bytes = segment_bytes;
  std::unique_ptr<WalWriter> writer;
  EXPECT_OK(WalWriter::Open(dir, options, 1, &writer));
  std::vector<WalRecord> synced, pending;
  for (int i = 0; i < n; ++i) {
    WalRecord r = MakeRecord(i, static_cast<size_t>(i * 37 % 3000));
    writer->Add(r);
    pending.push_back(r);
    const uint64_t syncs = writer->syncs();
    EXPECT_OK(writer->Flush());
    if (writer->syncs() != syncs) {  // rotated: all but this record were in the synced segment
      synced.insert(synced.end(), pending.begin(), pending.end() - 1);
      pending.erase(pending.begin(), pending.end() - 1);
    }
    if ((i + 1) % sync_every == 0) {
      EXPECT_OK(writer->Sync());
      synced.insert(synced.end(), pending.begin(), pending.end());
      pending.clear();
    }
  }
  EXPECT_GT(env->UnsyncedBytes(), 0u) << "the test must leave unsynced bytes to lose";
  writer.reset();                      // the process is gone ...
  EXPECT_OK(env->DropUnsyncedData());  // ... and so is the power
  return synced;
}

TEST_F(WalFaultTest, PowerLossMidStreamRecoversExactlyTheSyncedRecords) {
  const std::vector<WalRecord> synced =
      WriteThenLosePower(&env_, dir_.path(), /*n=*/250, /*sync_every=*/16, /*segment_bytes=*/8000);
  ASSERT_GT(Segments(dir_.path()).size(), 3u) << "rotations must be part of the run";

  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir_.path(), &got, &report, ReadOptions()));
  EXPECT_TRUE(report.problems.empty());
  ASSERT_EQ(synced.size(), got.size());
  for (size_t i = 0; i < synced.size(); ++i) EXPECT_EQ(synced[i], got[i]) << i;

  // The next writer starts after them and its log reads back whole.
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open(dir_.path(), Options(), report.last_lsn + 1, &writer));
  WalRecord r = MakeRecord(9999, 100);
  writer->Add(r);
  ASSERT_OK(writer->Flush());
  ASSERT_OK(writer->Sync());
  writer.reset();
  ASSERT_OK(VerifyWal(dir_.path(), &report, &env_));
  EXPECT_EQ(synced.size() + 1, report.records);
}

TEST(WalPowerLossTest, InMemoryPowerLossAtEveryCutKeepsEachSyncedPrefix) {
  // The same in a MemEnv: fast enough to cut after every possible number of records.
  for (int n = 1; n <= 40; ++n) {
    io::MemEnv mem;
    ASSERT_OK(mem.CreateDir("/wal", 0700));
    io::FaultInjectionEnv env(&mem);
    const int sync_every = 1 + n % 5;
    if (n % sync_every == 0) continue;  // nothing would be unsynced
    const std::vector<WalRecord> synced =
        WriteThenLosePower(&env, "/wal", n, sync_every, /*segment_bytes=*/4000);
    std::vector<WalRecord> got;
    ReplayReport report;
    ReplayOptions options;
    options.env = &env;
    ASSERT_OK(ReadAll("/wal", &got, &report, options)) << "n=" << n;
    ASSERT_EQ(synced.size(), got.size()) << "n=" << n;
    for (size_t i = 0; i < synced.size(); ++i) ASSERT_EQ(synced[i], got[i]) << "n=" << n;
  }
}

TEST(WalPowerLossTest, SegmentWhoseDirectorySyncFailedVanishesWithThePower) {
  io::MemEnv mem;
  ASSERT_OK(mem.CreateDir("/wal", 0700));
  io::FaultInjectionEnv env(&mem);
  WalWriterOptions options;
  options.env = &env;
  options.segment_bytes = 1000;
  std::unique_ptr<WalWriter> writer;
  ASSERT_OK(WalWriter::Open("/wal", options, 1, &writer));
  WalRecord a = MakeRecord(1, 2000), b = MakeRecord(2, 10);
  writer->Add(a);
  ASSERT_OK(writer->Flush());
  ASSERT_OK(writer->Sync());
  writer->Add(b);  // rotates: segment 2 is created, but its name is never made durable
  env.Inject(Fault(FaultOp::kSyncDir).Times(1));
  EXPECT_TRUE(writer->Flush().IsIOError());
  writer.reset();
  ASSERT_OK(env.DropUnsyncedData());

  std::vector<SegmentFile> segments;
  ASSERT_OK(ListSegments("/wal", &segments, &env));
  ASSERT_EQ(1u, segments.size());
  std::vector<WalRecord> got;
  ReplayReport report;
  ReplayOptions ropts;
  ropts.env = &env;
  ASSERT_OK(ReadAll("/wal", &got, &report, ropts));
  ASSERT_EQ(1u, got.size());
  EXPECT_EQ(a, got[0]);
}

// --- retention ---

TEST(WalRetentionTest, DeleteSegmentsBeforeRemovesOldestFirstAndSyncsTheDirectory) {
  io::MemEnv mem;
  ASSERT_OK(mem.CreateDir("/wal", 0700));
  io::FaultInjectionEnv env(&mem);
  for (uint64_t n = 1; n <= 5; ++n) {
    std::unique_ptr<io::WritableFile> f;
    ASSERT_OK(env.NewWritableFile(SegmentPath("/wal", n), {}, &f));
  }
  ASSERT_OK(env.SyncDir("/wal"));
  ASSERT_OK(env.RemoveFile(SegmentPath("/wal", 2)));  // already gone: not an error
  ASSERT_OK(env.SyncDir("/wal"));

  // A removal fails: the ones before it are done (and synced), *oldest names the one left.
  env.Inject(Fault(FaultOp::kRemove).PathContains(SegmentFileName(3)).Times(1));
  uint64_t oldest = 1;
  Status s = DeleteSegmentsBefore(&env, "/wal", 5, &oldest);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "cannot delete WAL segment " + SegmentPath("/wal", 3)));
  EXPECT_EQ(3u, oldest);
  ASSERT_OK(env.DropUnsyncedData());  // the removal of segment 1 was made durable
  EXPECT_EQ(3u, Segments(&env, "/wal").size());

  // A failed directory sync is returned; the next call syncs again, and then it holds.
  env.Inject(Fault(FaultOp::kSyncDir).Times(1));
  s = DeleteSegmentsBefore(&env, "/wal", 5, &oldest);
  EXPECT_TRUE(Contains(s.ToString(), "cannot sync WAL directory /wal")) << s.ToString();
  EXPECT_EQ(5u, oldest);
  ASSERT_OK(DeleteSegmentsBefore(&env, "/wal", 5, &oldest));
  ASSERT_OK(env.DropUnsyncedData());
  const std::vector<SegmentFile> left = Segments(&env, "/wal");
  ASSERT_EQ(1u, left.size());
  EXPECT_EQ(5u, left[0].number);
}

// --- garbage never crashes ---

TEST(WalTest, GarbageSegmentsNeverCrashTheReader) {
  TempDir dir;
  std::mt19937_64 rng(99);
  // A valid segment to mutate.
  std::vector<WalRecord> records;
  for (int i = 0; i < 300; ++i) records.push_back(MakeRecord(i, rng() % 700));
  records.push_back(MakeRecord(4000, 70000));
  WriteRecords(dir.path(), &records);
  const std::string path = SegmentPath(dir.path(), 1);
  const std::string valid = ReadFileBytes(path);

  for (int iter = 0; iter < 300; ++iter) {
    std::string bytes;
    switch (iter % 3) {
      case 0:  // pure noise
        bytes.resize(rng() % (3 * kBlockSize));
        for (char& c : bytes) c = static_cast<char>(rng());
        break;
      case 1:  // valid log with random byte damage
        bytes = valid;
        for (int k = 0, n = 1 + rng() % 20; k < n; ++k) {
          bytes[rng() % bytes.size()] = static_cast<char>(rng());
        }
        break;
      case 2:  // valid log, cut and with a noisy header-sized window
        bytes = valid.substr(0, rng() % valid.size());
        if (bytes.size() > 8) {
          const size_t at = rng() % (bytes.size() - 8);
          for (size_t k = 0; k < 7; ++k) bytes[at + k] = static_cast<char>(rng());
        }
        break;
    }
    WriteFileBytes(path, bytes);

    SegmentParser parser(bytes);
    SegmentParser::Item item;
    uint64_t last_offset = 0;
    while (parser.Next(&item)) {
      ASSERT_GE(item.offset, last_offset);  // progress, never a loop
      ASSERT_LE(item.offset, bytes.size());
      last_offset = item.offset;
    }

    ReplayReport report;
    (void)VerifyWal(dir.path(), &report);
    ReplayOptions options;
    options.salvage = iter % 2 == 0;
    std::vector<WalRecord> got;
    Status s = ReadAll(dir.path(), &got, &report, options);
    EXPECT_TRUE(s.ok() || s.IsCorruption()) << s.ToString();
    for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].lsn, got[i].lsn);
    for (const WalRecord& r : got) {
      ASSERT_GE(r.lsn, 1u);
      ASSERT_LE(r.lsn, records.size());
      ASSERT_EQ(records[r.lsn - 1], r);  // never a record other than the one written
    }
  }
}

}  // namespace
}  // namespace taskring::wal

// --- segments zero-filled ahead of their records (WalWriterOptions::prewrite_bytes) ---

namespace taskring::wal {
namespace {

// What a page that never reached the disk reads as in a zero-filled segment.
void ZeroSecondBlock(const std::string& path) {
  std::string bytes = ReadFileBytes(path);
  std::fill(bytes.begin() + kBlockSize, bytes.begin() + 2 * kBlockSize, '\0');
  WriteFileBytes(path, bytes);
}

TEST(WalPrewriteTest, SegmentsAreZeroFilledAheadAndTheZerosAreNoTornTail) {
  TempDir dir;
  std::vector<WalRecord> records;
  for (int i = 0; i < 100; ++i) records.push_back(MakeRecord(i, 200));
  WalWriterOptions options;
  options.prewrite_bytes = 64 << 10;
  WriteRecords(dir.path(), &records, options);
  const std::string path = SegmentPath(dir.path(), 1);
  const auto extents = RecordExtents(path);
  ASSERT_EQ(extents.size(), records.size());
  EXPECT_GE(FileSize(path), extents.back().end + options.prewrite_bytes)
      << "zeros stay at least one step ahead";
  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  EXPECT_EQ(got, records);
  EXPECT_EQ(report.torn_tail_bytes, 0u);
  EXPECT_TRUE(report.problems.empty());
}

// A power loss during an fdatasync can keep a later page and lose an earlier one, which reads
// back as the zeros written ahead. Nothing after that page was ever acknowledged: the log ends
// there, in the newest segment.
TEST(WalPrewriteTest, AZeroGapInTheNewestSegmentEndsTheLogThere) {
  TempDir dir;
  std::vector<WalRecord> records;
  for (int i = 0; i < 200; ++i) records.push_back(MakeRecord(i, 300));
  WriteRecords(dir.path(), &records, WalWriterOptions{});
  const std::string path = SegmentPath(dir.path(), 1);
  const auto extents = RecordExtents(path);
  // The second block never reached the disk.
  ZeroSecondBlock(path);
  size_t kept = 0;  // records that end before the lost block
  while (extents[kept].end <= kBlockSize) ++kept;
  const uint64_t cut = extents[kept].offset;

  ReplayReport verify;
  ASSERT_OK(VerifyWal(dir.path(), &verify)) << "a torn end, not corruption";
  std::vector<WalRecord> got;
  ReplayReport report;
  ASSERT_OK(ReadAll(dir.path(), &got, &report));
  ASSERT_EQ(got.size(), kept);
  EXPECT_EQ(got, std::vector<WalRecord>(records.begin(), records.begin() + kept));
  EXPECT_EQ(report.torn_tail_file, path);
  EXPECT_EQ(FileSize(path), cut) << "cut where the log ends, records after the gap with it";
}

// An older segment was synced whole before a newer one was created: a gap there is damage.
TEST(WalPrewriteTest, AZeroGapInAnOlderSegmentIsCorruption) {
  TempDir dir;
  std::vector<WalRecord> records;
  for (int i = 0; i < 900; ++i) records.push_back(MakeRecord(i, 300));
  WalWriterOptions options;
  options.segment_bytes = 100000;
  WriteRecords(dir.path(), &records, options);
  ASSERT_GE(Segments(dir.path()).size(), 2u);
  const std::string path = SegmentPath(dir.path(), 1);
  ZeroSecondBlock(path);
  std::vector<WalRecord> got;
  ReplayReport report;
  Status s = ReadAll(dir.path(), &got, &report);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "zeroed space")) << s.ToString();
}

// Garbage (not zeros) followed by records in the newest segment is still corruption: only the
// zeros written ahead mark a page that never reached the disk.
TEST(WalPrewriteTest, GarbageBeforeRecordsInTheNewestSegmentIsStillCorruption) {
  TempDir dir;
  std::vector<WalRecord> records;
  for (int i = 0; i < 200; ++i) records.push_back(MakeRecord(i, 300));
  WriteRecords(dir.path(), &records, WalWriterOptions{});
  const std::string path = SegmentPath(dir.path(), 1);
  const auto extents = RecordExtents(path);
  FlipByte(path, extents[20].offset + kHeaderSize + 10);
  std::vector<WalRecord> got;
  ReplayReport report;
  EXPECT_TRUE(ReadAll(dir.path(), &got, &report).IsCorruption());
}

}  // namespace
}  // namespace taskring::wal
