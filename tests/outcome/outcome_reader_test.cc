// OutcomeReader on the real file system: records the daemon's store wrote, found through the
// index or by a scan, and every way an index entry or the bytes it names can be wrong.
#include "outcome/outcome_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/outcome_store.h"
#include "test_util.h"

namespace taskring::outcome {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ULL;
constexpr uint64_t kT0 = 1'764'000'000'000'000'000ULL;

OutcomeRecord Rec(uint64_t id, size_t result_bytes = 0, JobState state = JobState::kCompleted) {
  OutcomeRecord r;
  r.job_id = id;
  r.secret[3] = 0x5a;
  r.state = state;
  r.attempt = 1;
  r.max_attempts = 3;
  r.finished_unix_ns = kT0;
  r.result.assign(result_bytes, static_cast<char>('A' + id % 26));
  if (state != JobState::kCompleted) r.error = "boom";
  return r;
}

class OutcomeReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon::OutcomeStoreOptions o;
    o.file_bytes = 16 << 10;
    ASSERT_OK(daemon::OutcomeStore::Open(io::Env::Default(), tmp_.path(), o, index_, kT0, &store_));
  }

  std::string Dir() const { return tmp_.path() + "/outcomes"; }
  std::string PathOf(uint32_t n) const { return Dir() + "/" + OutcomeFileName(n); }
  OutcomeReader Reader() const { return OutcomeReader(Dir(), index_); }
  OutcomeReader ScanningReader() const { return OutcomeReader(Dir(), OutcomeIndex()); }

  void Store(const std::vector<OutcomeRecord>& records) {
    for (const OutcomeRecord& r : records) ASSERT_TRUE(store_->Add(r));
    ASSERT_OK(store_->Flush());
  }

  // Overwrites `n` bytes of a data file at `offset` with `byte`.
  void Scribble(uint32_t file, uint64_t offset, char byte, size_t n = 1) {
    const int fd = ::open(PathOf(file).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string bytes(n, byte);
    ASSERT_EQ(::pwrite(fd, bytes.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    ::close(fd);
  }

  test::TempDir tmp_;
  std::vector<OutcomeIndexEntry> entries_ = std::vector<OutcomeIndexEntry>(1024);
  OutcomeIndex index_{entries_.data(), 1024};
  std::unique_ptr<daemon::OutcomeStore> store_;
};

TEST_F(OutcomeReaderTest, FindsTheLatestRecordThroughTheIndex) {
  Store({Rec(1), Rec(2, 100, JobState::kRetrying), Rec(3, 0, JobState::kCancelled)});
  Store({Rec(2, 50)});
  const OutcomeReader reader = Reader();
  OutcomeRecord got;
  ASSERT_OK(reader.Find(1, true, &got));
  EXPECT_EQ(got, Rec(1));
  ASSERT_OK(reader.Find(2, true, &got));
  EXPECT_EQ(got, Rec(2, 50)) << "the later record";
  ASSERT_OK(reader.Find(3, false, &got));
  EXPECT_EQ(got, Rec(3, 0, JobState::kCancelled));
}

TEST_F(OutcomeReaderTest, AStatusPollReadsOnlyTheHead) {
  Store({Rec(1, 64 << 10)});
  OutcomeRecord got;
  ASSERT_OK(Reader().Find(1, true, &got));
  EXPECT_EQ(got, Rec(1, 64 << 10)) << "a result beyond the first read";
  // Damage the result: a poll without it does not notice, a read of it does.
  Scribble(1, LocOffset(index_.Find(1)) + 1000, '#');
  ASSERT_OK(Reader().Find(1, false, &got));
  EXPECT_TRUE(got.result.empty());
  EXPECT_EQ(got.state, JobState::kCompleted);
  const Status s = Reader().Find(1, true, &got);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("result checksum mismatch"), std::string::npos) << s.ToString();
}

TEST_F(OutcomeReaderTest, SmallResultsComeWithTheFirstRead) {
  Store({Rec(1, 3000), Rec(2, 1)});
  OutcomeRecord got;
  ASSERT_OK(Reader().Find(1, true, &got));
  EXPECT_EQ(got, Rec(1, 3000));
  ASSERT_OK(Reader().Find(2, true, &got));
  EXPECT_EQ(got, Rec(2, 1));
}

TEST_F(OutcomeReaderTest, UnknownJobsAreNotFound) {
  Store({Rec(1)});
  OutcomeRecord got;
  EXPECT_TRUE(Reader().Find(99, true, &got).IsNotFound());
  EXPECT_TRUE(Reader().Find(0, true, &got).IsNotFound());
}

TEST_F(OutcomeReaderTest, ARecordWhoseFileWasDeletedIsNotFound) {
  Store({Rec(1, 10000)});
  Store({Rec(2, 10000)});  // rotates: file 1 is no longer written
  store_->Expire(kT0 + 48 * 3600 * kSecond);
  ASSERT_NE(index_.Find(1), 0u) << "the entry is still there";
  OutcomeRecord got;
  const Status s = Reader().Find(1, true, &got);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("expired or evicted"), std::string::npos) << s.ToString();
  ASSERT_OK(Reader().Find(2, false, &got));
}

TEST_F(OutcomeReaderTest, AStaleEntryNamingAnotherJobsRecordIsNotFound) {
  Store({Rec(1), Rec(2)});
  index_.Put(3, index_.Find(2), 1);
  OutcomeRecord got;
  const Status s = Reader().Find(3, true, &got);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("stale"), std::string::npos) << s.ToString();
}

TEST_F(OutcomeReaderTest, EntriesOutsideTheRecordsAreNotFound) {
  Store({Rec(1)});
  OutcomeRecord got;
  for (uint64_t loc : {PackOutcomeLoc(1, 1 << 20), PackOutcomeLoc(1, 0), PackOutcomeLoc(1, 4),
                       PackOutcomeLoc(77, 8)}) {
    index_.Put(5, loc, 1);
    const Status s = Reader().Find(5, true, &got);
    EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  }
}

TEST_F(OutcomeReaderTest, DamageAtTheIndexedPlaceIsCorruptionNamingIt) {
  Store({Rec(1), Rec(2)});
  const uint64_t loc = index_.Find(2);
  Scribble(1, LocOffset(loc) + kOutcomeFrameSize + 5, '\x7f');  // inside its job id
  OutcomeRecord got;
  const Status s = Reader().Find(2, false, &got);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(PathOf(1) + ": offset " + std::to_string(LocOffset(loc))),
            std::string::npos)
      << s.ToString();
  ASSERT_OK(Reader().Find(1, true, &got));
  // A location in the middle of a record reads garbage: Corruption, never a crash.
  index_.Put(2, loc + 3, 1);
  EXPECT_TRUE(Reader().Find(2, false, &got).IsCorruption());
}

TEST_F(OutcomeReaderTest, ARecordCutByTheEndOfItsFileIsCorruption) {
  Store({Rec(1), Rec(2, 5000)});
  const uint64_t loc = index_.Find(2);
  ASSERT_EQ(::truncate(PathOf(1).c_str(), static_cast<off_t>(LocOffset(loc) + 200)), 0);
  OutcomeRecord got;
  EXPECT_TRUE(Reader().Find(2, false, &got).IsCorruption());
  EXPECT_TRUE(Reader().Find(2, true, &got).IsCorruption());
  ASSERT_EQ(::truncate(PathOf(1).c_str(), static_cast<off_t>(LocOffset(loc) + 40)), 0);
  EXPECT_TRUE(Reader().Find(2, false, &got).IsCorruption()) << "the head itself cut";
  ASSERT_OK(Reader().Find(1, true, &got));
}

TEST_F(OutcomeReaderTest, ADirectoryInPlaceOfAFileIsNotRead) {
  ASSERT_EQ(::mkdir(PathOf(9).c_str(), 0700), 0);
  index_.Put(5, PackOutcomeLoc(9, 8), 1);
  OutcomeRecord got;
  const Status s = Reader().Find(5, true, &got);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_F(OutcomeReaderTest, WithoutAnIndexAScanFindsTheNewestRecord) {
  Store({Rec(1), Rec(2, 0, JobState::kRetrying), Rec(3, 20000)});
  Store({Rec(2, 10), Rec(4)});
  Store({Rec(5, 9000)});
  const OutcomeReader reader = ScanningReader();
  OutcomeRecord got;
  ASSERT_OK(reader.Find(2, true, &got));
  EXPECT_EQ(got, Rec(2, 10));
  ASSERT_OK(reader.Find(3, true, &got));
  EXPECT_EQ(got, Rec(3, 20000));
  ASSERT_OK(reader.Find(1, false, &got));
  EXPECT_EQ(got.job_id, 1u);
  EXPECT_TRUE(reader.Find(6, true, &got).IsNotFound());
}

TEST_F(OutcomeReaderTest, AScanSkipsDamageAndForeignFiles) {
  Store({Rec(1), Rec(2), Rec(3)});
  // Damage record 2: the scan of file 1 ends there, as the store's reading at start does.
  Scribble(1, LocOffset(index_.Find(2)) + kOutcomeFrameSize + 30, '\x01');
  Store({Rec(10, 20000)});
  ASSERT_GE(LocFile(index_.Find(10)), 2u);
  {
    const int fd = ::open(PathOf(50).c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "TROUTC02xxxx", 12), 12);
    ::close(fd);
  }
  const OutcomeReader reader = ScanningReader();
  OutcomeRecord got;
  ASSERT_OK(reader.Find(1, true, &got));
  EXPECT_TRUE(reader.Find(2, true, &got).IsNotFound());
  EXPECT_TRUE(reader.Find(3, true, &got).IsNotFound());
  ASSERT_OK(reader.Find(10, true, &got));
  EXPECT_EQ(got, Rec(10, 20000));
}

TEST(OutcomeReaderNoDirTest, AMissingDirectoryIsNotFound) {
  test::TempDir tmp;
  OutcomeRecord got;
  EXPECT_TRUE(
      OutcomeReader(tmp.path() + "/outcomes", OutcomeIndex()).Find(1, true, &got).IsNotFound());
  std::vector<OutcomeIndexEntry> entries(16);
  OutcomeIndex index(entries.data(), 16);
  index.Put(1, PackOutcomeLoc(1, 8), 1);
  EXPECT_TRUE(OutcomeReader(tmp.path() + "/outcomes", index).Find(1, true, &got).IsNotFound());
}

}  // namespace
}  // namespace taskring::outcome
