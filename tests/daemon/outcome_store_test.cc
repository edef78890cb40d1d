// OutcomeStore: outcome records appended to DIR/outcomes/*.out and published in the index;
// rotation, TTL, the byte bound, restarts, torn and damaged files, and storage failures.
#include "daemon/outcome_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "io/fault_injection_env.h"
#include "io/mem_env.h"
#include "outcome/outcome_index.h"
#include "outcome/outcome_record.h"
#include "test_util.h"

namespace taskring::daemon {
namespace {

using Fault = io::FaultInjectionEnv::Fault;
using FaultOp = io::FaultInjectionEnv::Op;
using outcome::LocFile;
using outcome::LocOffset;
using outcome::OutcomeFileName;
using outcome::OutcomeRecord;

constexpr uint64_t kSecond = 1'000'000'000ULL;
constexpr uint64_t kT0 = 1'764'000'000'000'000'000ULL;
constexpr char kWalDir[] = "/q";
constexpr char kDir[] = "/q/outcomes";

std::string PathOf(uint32_t number) { return std::string(kDir) + "/" + OutcomeFileName(number); }

OutcomeRecord Rec(uint64_t id, uint64_t finished = kT0, size_t result_bytes = 0,
                  JobState state = JobState::kCompleted, uint32_t attempt = 1) {
  OutcomeRecord r;
  r.job_id = id;
  r.secret[0] = static_cast<uint8_t>(id);
  r.state = state;
  r.attempt = attempt;
  r.max_attempts = 3;
  r.enqueued_unix_ns = finished - 2 * kSecond;
  r.started_unix_ns = finished - kSecond;
  r.finished_unix_ns = finished;
  r.result.assign(result_bytes, static_cast<char>('a' + id % 26));
  if (state == JobState::kRetrying || state == JobState::kDead) r.error = "failed";
  return r;
}

class OutcomeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(mem_.CreateDir(kWalDir, 0700)); }

  OutcomeStoreOptions Options(uint64_t max_bytes = 256ull << 20, uint64_t file_bytes = 0) {
    OutcomeStoreOptions o;
    o.max_bytes = max_bytes;
    o.file_bytes = file_bytes;
    o.ttl_ns = 3600 * kSecond;
    return o;
  }

  std::unique_ptr<OutcomeStore> Open(const OutcomeStoreOptions& options, uint64_t now = kT0) {
    std::unique_ptr<OutcomeStore> store;
    EXPECT_OK(OutcomeStore::Open(&env_, kWalDir, options, index_, now, &store));
    return store;
  }
  std::unique_ptr<OutcomeStore> Open() { return Open(Options()); }

  // What OutcomeReader does, over the MemEnv: the record the index names, if it is id's.
  Status Lookup(uint64_t id, OutcomeRecord* out) {
    const uint64_t loc = index_.Find(id);
    if (loc == 0) return Status::NotFound("not indexed");
    std::string data;
    Status s = io::ReadFileToString(&mem_, PathOf(LocFile(loc)), &data);
    if (s.IsNotFound()) return Status::NotFound("file gone");
    if (!s.ok()) return s;
    if (LocOffset(loc) >= data.size()) return Status::NotFound("past the end");
    uint64_t size = 0;
    s = outcome::DecodeOutcome(std::string_view(data).substr(LocOffset(loc)), out, &size);
    if (!s.ok()) return s;
    if (out->job_id != id) return Status::NotFound("another job's record");
    return Status::OK();
  }
  bool Findable(uint64_t id) {
    OutcomeRecord r;
    const Status s = Lookup(id, &r);
    EXPECT_TRUE(s.ok() || s.IsNotFound()) << id << ": " << s.ToString();
    return s.ok();
  }

  std::string FileBytes(uint32_t number) {
    std::string data;
    EXPECT_OK(io::ReadFileToString(&mem_, PathOf(number), &data));
    return data;
  }
  void WriteFileBytes(const std::string& path, const std::string& bytes) {
    std::unique_ptr<io::WritableFile> f;
    ASSERT_OK(mem_.NewWritableFile(path, {}, &f));
    ASSERT_OK(f->Write(0, bytes));
    ASSERT_OK(f->Close());
  }
  std::vector<std::string> Names() {
    std::vector<std::string> names;
    EXPECT_OK(mem_.GetChildren(kDir, &names));
    std::sort(names.begin(), names.end());
    return names;
  }

  io::MemEnv mem_;
  io::FaultInjectionEnv env_{&mem_};
  std::vector<outcome::OutcomeIndexEntry> entries_ = std::vector<outcome::OutcomeIndexEntry>(4096);
  outcome::OutcomeIndex index_{entries_.data(), 4096};
};

TEST_F(OutcomeStoreTest, RecordsArePublishedOnlyOnceFlushed) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(1)));
  ASSERT_TRUE(store->Add(Rec(2, kT0, 100, JobState::kDead, 3)));
  EXPECT_EQ(store->buffered(), 2u);
  EXPECT_EQ(index_.Find(1), 0u) << "nothing is published before its bytes are in a file";
  EXPECT_EQ(store->files(), 0u) << "no file until there is something to write";
  ASSERT_OK(store->Flush());
  EXPECT_EQ(store->buffered(), 0u);
  OutcomeRecord got;
  ASSERT_OK(Lookup(2, &got));
  EXPECT_EQ(got, Rec(2, kT0, 100, JobState::kDead, 3));
  ASSERT_OK(Lookup(1, &got));
  EXPECT_EQ(got, Rec(1));
  JobState state{};
  uint32_t attempt = 0;
  ASSERT_TRUE(store->Latest(2, &state, &attempt));
  EXPECT_EQ(state, JobState::kDead);
  EXPECT_EQ(attempt, 3u);
  EXPECT_FALSE(store->Latest(3, &state, &attempt));
  EXPECT_EQ(store->stored(), 2u);
  EXPECT_EQ(store->records(), 2u);
  EXPECT_EQ(store->bytes(), outcome::kOutcomeFileHeaderSize + outcome::EncodedOutcomeSize(Rec(1)) +
                                outcome::EncodedOutcomeSize(Rec(2, kT0, 100, JobState::kDead)));
  EXPECT_EQ(Names(), std::vector<std::string>{"00000001.out"});
  EXPECT_EQ(FileBytes(1).substr(0, 8), "TROUTC01");
}

TEST_F(OutcomeStoreTest, TheLaterRecordOfAJobWinsAlsoAfterARestart) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add(Rec(7, kT0, 0, JobState::kRetrying, 1)));
    ASSERT_OK(store->Flush());
    ASSERT_TRUE(store->Add(Rec(7, kT0 + kSecond, 0, JobState::kCompleted, 2)));
    ASSERT_OK(store->Sync());
    JobState state{};
    uint32_t attempt = 0;
    ASSERT_TRUE(store->Latest(7, &state, &attempt));
    EXPECT_EQ(state, JobState::kCompleted);
    EXPECT_EQ(attempt, 2u);
  }
  index_.Clear();
  auto store = Open();
  JobState state{};
  uint32_t attempt = 0;
  ASSERT_TRUE(store->Latest(7, &state, &attempt));
  EXPECT_EQ(state, JobState::kCompleted);
  EXPECT_EQ(attempt, 2u);
  EXPECT_EQ(store->records(), 2u);
  EXPECT_EQ(store->stored(), 0u) << "a counter of this store's life";
}

TEST_F(OutcomeStoreTest, AddRefusesRecordsReadersWouldRefuse) {
  auto store = Open();
  OutcomeRecord long_error = Rec(1);
  long_error.error.assign(outcome::kMaxErrorBytes + 1, 'e');
  OutcomeRecord bad_meta = Rec(2);
  bad_meta.meta = "\x02x";
  EXPECT_FALSE(store->Add(Rec(0)));
  EXPECT_FALSE(store->Add(Rec(3, kT0, 0, JobState::kRunning)));
  EXPECT_FALSE(store->Add(long_error));
  EXPECT_FALSE(store->Add(bad_meta));
  EXPECT_EQ(store->buffered(), 0u);
  ASSERT_OK(store->Flush());
  EXPECT_EQ(store->files(), 0u);
}

TEST_F(OutcomeStoreTest, TheRotationSizeDefaultsToASixteenthOfTheBound) {
  EXPECT_EQ(Open(Options(256ull << 20))->file_bytes(), 16ull << 20);
  EXPECT_EQ(Open(Options(1ull << 20))->file_bytes(), 64ull << 10);
  EXPECT_EQ(Open(Options(64ull << 30))->file_bytes(), 64ull << 20);
  EXPECT_EQ(Open(Options(1ull << 20, 1))->file_bytes(), OutcomeStore::kMinFileBytes);
  EXPECT_EQ(Open(Options(1ull << 20, 8ull << 30))->file_bytes(), OutcomeStore::kMaxFileBytes);
  EXPECT_EQ(Open(Options(1ull << 20, 100000))->file_bytes(), 100000u);
}

TEST_F(OutcomeStoreTest, ZeroBoundOrTtlIsInvalid) {
  std::unique_ptr<OutcomeStore> store;
  OutcomeStoreOptions o = Options(0);
  EXPECT_TRUE(OutcomeStore::Open(&env_, kWalDir, o, index_, kT0, &store).IsInvalidArgument());
  o = Options();
  o.ttl_ns = 0;
  EXPECT_TRUE(OutcomeStore::Open(&env_, kWalDir, o, index_, kT0, &store).IsInvalidArgument());
}

TEST_F(OutcomeStoreTest, FilesRotateBeforeTheyPassTheirSize) {
  constexpr uint64_t kFileBytes = 8 << 10;
  auto store = Open(Options(256ull << 20, kFileBytes));
  for (uint64_t id = 1; id <= 40; ++id) {
    ASSERT_TRUE(store->Add(Rec(id, kT0, 1000)));
    ASSERT_OK(store->Flush());
  }
  const std::vector<std::string> names = Names();
  ASSERT_GT(names.size(), 4u);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(names[i], OutcomeFileName(i + 1));
    EXPECT_LE(FileBytes(i + 1).size(), kFileBytes) << names[i];
  }
  for (uint64_t id = 1; id <= 40; ++id) EXPECT_TRUE(Findable(id)) << id;
  // One Flush of more than a file's worth goes to one (new) file, in one write.
  for (uint64_t id = 41; id <= 60; ++id) ASSERT_TRUE(store->Add(Rec(id, kT0, 1000)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(Names().size(), names.size() + 1);
  EXPECT_EQ(LocFile(index_.Find(41)), LocFile(index_.Find(60)));
}

TEST_F(OutcomeStoreTest, TheByteBoundEvictsTheOldestFilesAndCountsTheirRecords) {
  constexpr uint64_t kMax = 32 << 10, kFileBytes = 8 << 10;
  auto store = Open(Options(kMax, kFileBytes));
  constexpr uint64_t kIds = 200;
  for (uint64_t id = 1; id <= kIds; ++id) {
    ASSERT_TRUE(store->Add(Rec(id, kT0, 500)));
    ASSERT_OK(store->Flush());
    store->Expire(kT0);
    EXPECT_LE(store->bytes(), kMax + kFileBytes) << id;
  }
  EXPECT_EQ(store->expired(), 0u);
  uint64_t findable = 0;
  for (uint64_t id = 1; id <= kIds; ++id) findable += Findable(id);
  EXPECT_GT(store->evicted(), 0u);
  EXPECT_EQ(store->evicted() + findable, kIds) << "every record is findable or counted";
  EXPECT_EQ(store->records(), findable);
  EXPECT_FALSE(Findable(1));
  EXPECT_TRUE(Findable(kIds));
  JobState state{};
  uint32_t attempt = 0;
  EXPECT_FALSE(store->Latest(1, &state, &attempt)) << "its file is gone";
  uint64_t on_disk = 0;
  for (const std::string& name : Names()) {
    uint32_t n = 0;
    ASSERT_TRUE(outcome::ParseOutcomeFileName(name, &n));
    on_disk += FileBytes(n).size();
  }
  EXPECT_EQ(on_disk, store->bytes());
}

TEST_F(OutcomeStoreTest, TheTtlDeletesWholeFilesByTheirNewestRecord) {
  OutcomeStoreOptions o = Options(256ull << 20, 4 << 10);
  o.ttl_ns = 100 * kSecond;
  auto store = Open(o);
  // File 1: finished at t0 and t0+10 s. File 2: t0+50 s. File 3 (being written): t0+60 s.
  ASSERT_TRUE(store->Add(Rec(1, kT0, 3000)));
  ASSERT_TRUE(store->Add(Rec(2, kT0 + 10 * kSecond)));
  ASSERT_OK(store->Flush());
  ASSERT_TRUE(store->Add(Rec(3, kT0 + 50 * kSecond, 4000)));
  ASSERT_OK(store->Flush());
  ASSERT_TRUE(store->Add(Rec(4, kT0 + 60 * kSecond, 4000)));
  ASSERT_OK(store->Flush());
  ASSERT_EQ(store->files(), 3u);
  store->Expire(kT0 + 110 * kSecond);
  EXPECT_EQ(store->files(), 3u) << "exactly ttl after its newest record is not more than ttl";
  store->Expire(kT0 + 110 * kSecond + 1);
  EXPECT_EQ(store->files(), 2u);
  EXPECT_EQ(store->expired(), 2u);
  EXPECT_FALSE(Findable(1));
  EXPECT_FALSE(Findable(2));
  EXPECT_TRUE(Findable(3));
  store->Expire(kT0 + 1000 * kSecond);
  EXPECT_EQ(store->files(), 1u) << "the file being written stays";
  EXPECT_TRUE(Findable(4));
  EXPECT_EQ(store->expired(), 3u);
  EXPECT_EQ(store->evicted(), 0u);
  ASSERT_OK(store->Sync());
  store.reset();
  // At a restart the TTL applies at once, to every file (none is being written).
  index_.Clear();
  store = Open(o, kT0 + 1000 * kSecond);
  EXPECT_EQ(store->files(), 0u);
  EXPECT_EQ(store->expired(), 1u);
  EXPECT_EQ(Names(), std::vector<std::string>{});
}

TEST_F(OutcomeStoreTest, DisplacementFromTheIndexCountsAsEvictedOnce) {
  std::vector<outcome::OutcomeIndexEntry> small(16);
  index_ = outcome::OutcomeIndex(small.data(), 16);
  auto store = Open(Options(1 << 20, 4 << 10));
  for (uint64_t id = 1; id <= 40; ++id) ASSERT_TRUE(store->Add(Rec(id, kT0, 10)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(store->evicted(), 24u) << "16 entries, 40 ids";
  uint64_t findable = 0;
  for (uint64_t id = 1; id <= 40; ++id) findable += Findable(id);
  EXPECT_EQ(findable, 16u);
  EXPECT_TRUE(Findable(40));
  // A later record of an indexed job replaces its entry: nothing displaced.
  ASSERT_TRUE(store->Add(Rec(40, kT0 + kSecond, 10)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(store->evicted(), 24u);
  // Job 100 (in a new file) displaces one more. Deleting file 1 then drops only the records
  // still findable in it: 15 of its 41 (25 displaced, one superseded), each counted once.
  ASSERT_TRUE(store->Add(Rec(100, kT0, 5000)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(store->evicted(), 25u);
  ASSERT_EQ(store->files(), 2u);
  store->Expire(kT0 + 3602 * kSecond);
  EXPECT_EQ(store->files(), 1u);
  EXPECT_EQ(store->expired(), 15u);
  EXPECT_EQ(store->evicted(), 25u);
  EXPECT_EQ(store->evicted() + store->expired(), 40u) << "one count per job";
}

TEST_F(OutcomeStoreTest, ARestartFindsEverythingWithinTheBounds) {
  std::vector<OutcomeRecord> added;
  {
    auto store = Open(Options(1 << 20, 8 << 10));
    for (uint64_t id = 1; id <= 100; ++id) {
      added.push_back(
          Rec(id, kT0 + id, id * 37 % 2000, id % 3 == 0 ? JobState::kDead : JobState::kCompleted));
      ASSERT_TRUE(store->Add(added.back()));
      if (id % 7 == 0) {
        ASSERT_OK(store->Flush());
      }
    }
    ASSERT_OK(store->Sync());
  }
  ASSERT_OK(env_.DropUnsyncedData());
  index_.Clear();
  auto store = Open(Options(1 << 20, 8 << 10), kT0 + 200);
  EXPECT_GT(store->files(), 1u);
  EXPECT_EQ(store->records(), 100u);
  EXPECT_EQ(store->truncated_bytes(), 0u);
  EXPECT_EQ(store->damaged_records(), 0u);
  EXPECT_TRUE(store->problems().empty());
  for (const OutcomeRecord& r : added) {
    OutcomeRecord got;
    ASSERT_OK(Lookup(r.job_id, &got));
    EXPECT_EQ(got, r);
  }
  // New records go to a new file, numbered past the others.
  const size_t files = Names().size();
  ASSERT_TRUE(store->Add(Rec(500)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(LocFile(index_.Find(500)), files + 1);
}

TEST_F(OutcomeStoreTest, ARestartUnderASmallerBoundEvictsTheOldest) {
  {
    auto store = Open(Options(1 << 20, 4 << 10));
    for (uint64_t id = 1; id <= 60; id += 4) {
      for (uint64_t i = id; i < id + 4; ++i) ASSERT_TRUE(store->Add(Rec(i, kT0, 900)));
      ASSERT_OK(store->Flush());
    }
    ASSERT_OK(store->Sync());
  }
  index_.Clear();
  // 15 files of 4 records; 4 files fit 16 KiB.
  auto store = Open(Options(16 << 10, 4 << 10));
  EXPECT_LE(store->bytes(), 16u << 10);
  EXPECT_EQ(store->files(), 4u);
  EXPECT_EQ(store->evicted(), 44u);
  EXPECT_TRUE(Findable(60));
  EXPECT_FALSE(Findable(1));
}

// What a crashed daemon (not a host crash) leaves: files written but never synced. The next
// daemon's first Sync() must make them durable, names included.
TEST_F(OutcomeStoreTest, SyncMakesTheFilesFoundAtOpenDurable) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add(Rec(1)));
    ASSERT_OK(store->Flush());
  }
  index_.Clear();
  {
    auto store = Open();
    ASSERT_TRUE(Findable(1));
    ASSERT_OK(store->Sync());
  }
  ASSERT_OK(env_.DropUnsyncedData());
  index_.Clear();
  auto store = Open();
  EXPECT_TRUE(Findable(1));
}

TEST_F(OutcomeStoreTest, APowerLossKeepsWhatSyncCovered) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add(Rec(1)));
    ASSERT_OK(store->Sync());
    ASSERT_TRUE(store->Add(Rec(2)));
    ASSERT_OK(store->Flush());  // never synced
  }
  ASSERT_OK(env_.DropUnsyncedData());
  index_.Clear();
  auto store = Open();
  EXPECT_TRUE(Findable(1));
  EXPECT_FALSE(Findable(2));
  EXPECT_EQ(store->truncated_bytes(), 0u) << "cut back exactly to the synced size";
}

TEST_F(OutcomeStoreTest, ATornTailOfTheNewestFileIsCutOnOpen) {
  std::string file;
  outcome::EncodeOutcomeFileHeader(&file);
  outcome::EncodeOutcome(Rec(1), &file);
  const size_t good = file.size();
  std::string partial;
  outcome::EncodeOutcome(Rec(2, kT0, 300), &partial);
  ASSERT_OK(mem_.CreateDir(kDir, 0700));
  WriteFileBytes(PathOf(3), file + partial.substr(0, 100));
  auto store = Open();
  EXPECT_EQ(store->truncated_bytes(), 100u);
  EXPECT_EQ(FileBytes(3).size(), good);
  EXPECT_TRUE(Findable(1));
  EXPECT_FALSE(Findable(2));
  ASSERT_EQ(store->problems().size(), 1u);
  EXPECT_NE(store->problems()[0].find("00000003.out: torn tail of 100 bytes"), std::string::npos)
      << store->problems()[0];
  // Appends continue in a new file; the next start finds a clean store.
  ASSERT_TRUE(store->Add(Rec(4)));
  ASSERT_OK(store->Sync());
  store.reset();
  index_.Clear();
  store = Open();
  EXPECT_EQ(store->truncated_bytes(), 0u);
  EXPECT_TRUE(store->problems().empty());
  EXPECT_TRUE(Findable(1));
  EXPECT_TRUE(Findable(4));
}

TEST_F(OutcomeStoreTest, DamageInAnOlderFileSkipsItsRestAndIsCounted) {
  {
    auto store = Open(Options(1 << 20, 4 << 10));
    for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(store->Add(Rec(id, kT0, 500)));
    ASSERT_OK(store->Flush());
    for (uint64_t id = 5; id <= 8; ++id) ASSERT_TRUE(store->Add(Rec(id, kT0, 500)));
    ASSERT_OK(store->Sync());
  }
  ASSERT_EQ(Names().size(), 2u);
  // The second record of file 1: a flipped bit in its result.
  std::string bytes = FileBytes(1);
  const size_t second =
      outcome::kOutcomeFileHeaderSize + outcome::EncodedOutcomeSize(Rec(1, kT0, 500));
  bytes[second + 100] ^= 0x08;
  WriteFileBytes(PathOf(1), bytes);
  index_.Clear();
  auto store = Open(Options(1 << 20, 4 << 10));
  EXPECT_EQ(store->damaged_records(), 3u);
  EXPECT_EQ(store->truncated_bytes(), 0u);
  EXPECT_EQ(FileBytes(1), bytes) << "kept as it is";
  EXPECT_TRUE(Findable(1));
  for (uint64_t id = 2; id <= 4; ++id) EXPECT_FALSE(Findable(id)) << id;
  for (uint64_t id = 5; id <= 8; ++id) EXPECT_TRUE(Findable(id)) << id;
  ASSERT_EQ(store->problems().size(), 1u);
  EXPECT_NE(store->problems()[0].find("00000001.out: offset " + std::to_string(second)),
            std::string::npos)
      << store->problems()[0];
  EXPECT_EQ(store->records(), 5u);
  EXPECT_EQ(store->bytes(), bytes.size() + FileBytes(2).size());
}

TEST_F(OutcomeStoreTest, ForeignFilesAreSkippedLeftAndNeverOverwritten) {
  ASSERT_OK(mem_.CreateDir(kDir, 0700));
  std::string v2;
  outcome::EncodeOutcomeFileHeader(&v2);
  v2[7] = '2';
  WriteFileBytes(PathOf(5), v2 + "future records");
  WriteFileBytes(PathOf(6), "not an outcome file at all");
  WriteFileBytes(std::string(kDir) + "/notes.txt", "a human's");
  auto store = Open();
  EXPECT_EQ(store->skipped_files(), 2u);
  EXPECT_EQ(store->bytes(), 0u);
  ASSERT_EQ(store->problems().size(), 2u);
  EXPECT_NE(store->problems()[0].find("00000005.out: outcome file format version 02"),
            std::string::npos)
      << store->problems()[0];
  EXPECT_NE(store->problems()[1].find("00000006.out: not a taskring outcome file"),
            std::string::npos)
      << store->problems()[1];
  ASSERT_TRUE(store->Add(Rec(1)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(LocFile(index_.Find(1)), 7u);
  store->Expire(kT0 + 365 * 24 * 3600 * kSecond);
  EXPECT_EQ(FileBytes(5), v2 + "future records");
  EXPECT_EQ(FileBytes(6), "not an outcome file at all");
}

TEST_F(OutcomeStoreTest, EmptyAndHeaderOnlyFilesAreDeletedOnOpen) {
  ASSERT_OK(mem_.CreateDir(kDir, 0700));
  WriteFileBytes(PathOf(1), "");
  WriteFileBytes(PathOf(2), "TROUT");
  WriteFileBytes(PathOf(3), "TROUTC01");
  auto store = Open();
  EXPECT_EQ(Names(), std::vector<std::string>{});
  EXPECT_EQ(store->files(), 0u);
  EXPECT_TRUE(store->problems().empty());
  ASSERT_TRUE(store->Add(Rec(1)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(LocFile(index_.Find(1)), 4u) << "numbers are not reused within a run of names";
}

TEST_F(OutcomeStoreTest, AFailedWriteThenASuccessfulFlushLosesNothing) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(1)));
  ASSERT_OK(store->Flush());
  const size_t good = FileBytes(1).size();
  ASSERT_TRUE(store->Add(Rec(2, kT0, 300)));
  ASSERT_TRUE(store->Add(Rec(3)));
  env_.Inject(Fault(FaultOp::kWrite).Times(1).Error(ENOSPC).PartialBytes(50));
  const Status s = store->Flush();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("cannot write outcome file /q/outcomes/00000001.out"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(index_.Find(2), 0u) << "nothing published";
  EXPECT_EQ(store->buffered(), 2u);
  EXPECT_EQ(FileBytes(1).size(), good) << "the partial write was cut off";
  ASSERT_OK(store->Flush());
  EXPECT_EQ(LocFile(index_.Find(2)), 2u) << "written to a new file";
  EXPECT_EQ(store->stored(), 3u);
  ASSERT_OK(store->Sync());
  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  index_.Clear();
  store = Open();
  EXPECT_EQ(store->truncated_bytes(), 0u);
  EXPECT_EQ(store->damaged_records(), 0u);
  for (uint64_t id = 1; id <= 3; ++id) EXPECT_TRUE(Findable(id)) << id;
}

TEST_F(OutcomeStoreTest, AFailedFirstWriteLeavesNoFile) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(1)));
  env_.Inject(Fault(FaultOp::kWrite).Times(1).PartialBytes(5));
  EXPECT_FALSE(store->Flush().ok());
  EXPECT_EQ(Names(), std::vector<std::string>{});
  EXPECT_EQ(store->files(), 0u);
  env_.Inject(Fault(FaultOp::kCreate).Times(1));
  EXPECT_FALSE(store->Flush().ok());
  ASSERT_OK(store->Flush());
  EXPECT_EQ(Names(), std::vector<std::string>{"00000003.out"}) << "a number is used once";
  EXPECT_TRUE(Findable(1));
}

TEST_F(OutcomeStoreTest, AFailedSyncRewritesWhatWasNotDurable) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(1)));
  ASSERT_OK(store->Sync());
  const size_t durable = FileBytes(1).size();
  ASSERT_TRUE(store->Add(Rec(2, kT0, 2000)));
  ASSERT_TRUE(store->Add(Rec(3)));
  ASSERT_OK(store->Flush());
  env_.Inject(Fault(FaultOp::kSync).Times(1));
  const Status s = store->Sync();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("cannot sync outcome file"), std::string::npos) << s.ToString();
  EXPECT_EQ(LocFile(index_.Find(2)), 1u);
  ASSERT_TRUE(store->Add(Rec(4)));
  ASSERT_OK(store->Sync());
  // The records past file 1's last good fdatasync now live in file 2, and file 1 is cut back.
  EXPECT_EQ(LocFile(index_.Find(1)), 1u);
  EXPECT_EQ(LocFile(index_.Find(2)), 2u);
  EXPECT_EQ(LocFile(index_.Find(3)), 2u);
  EXPECT_EQ(LocFile(index_.Find(4)), 2u);
  EXPECT_EQ(FileBytes(1).size(), durable);
  EXPECT_EQ(store->records(), 4u);
  EXPECT_EQ(store->stored(), 4u) << "copies are not new records";
  EXPECT_EQ(store->damaged_records(), 0u);
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_TRUE(Findable(id)) << id;
  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  index_.Clear();
  store = Open();
  EXPECT_EQ(store->records(), 4u) << "no duplicates left behind";
  EXPECT_EQ(store->damaged_records(), 0u);
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_TRUE(Findable(id)) << id;
}

TEST_F(OutcomeStoreTest, ARewriteAfterAFailedSyncNeverResurrectsASupersededRecord) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(7, kT0, 0, JobState::kRetrying, 1)));
  ASSERT_OK(store->Flush());
  env_.Inject(Fault(FaultOp::kSync).Times(1));
  EXPECT_FALSE(store->Sync().ok());
  // The job's next outcome arrives before the retry: it goes to a new file.
  ASSERT_TRUE(store->Add(Rec(7, kT0 + kSecond, 0, JobState::kCompleted, 2)));
  ASSERT_OK(store->Flush());
  ASSERT_OK(store->Sync());
  JobState state{};
  uint32_t attempt = 0;
  ASSERT_TRUE(store->Latest(7, &state, &attempt));
  EXPECT_EQ(state, JobState::kCompleted);
  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  index_.Clear();
  store = Open();
  ASSERT_TRUE(store->Latest(7, &state, &attempt));
  EXPECT_EQ(state, JobState::kCompleted);
  EXPECT_EQ(attempt, 2u);
  EXPECT_EQ(store->records(), 1u);
}

TEST_F(OutcomeStoreTest, CopiesOfAFileThatExpiredMeanwhileAreNotWritten) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(1)));
  ASSERT_OK(store->Flush());
  env_.Inject(Fault(FaultOp::kSync).Times(1));
  EXPECT_FALSE(store->Sync().ok());
  // The next Sync copies record 1, but cannot write the copy.
  env_.Inject(Fault(FaultOp::kWrite).Times(1));
  EXPECT_FALSE(store->Sync().ok());
  EXPECT_EQ(store->buffered(), 1u);
  store->Expire(kT0 + 3601 * kSecond);
  EXPECT_EQ(store->expired(), 1u);
  ASSERT_OK(store->Sync());
  EXPECT_EQ(store->buffered(), 0u);
  EXPECT_EQ(store->records(), 0u);
  EXPECT_EQ(Names(), std::vector<std::string>{}) << "no file for an expired copy";
  store.reset();
  index_.Clear();
  store = Open();
  EXPECT_FALSE(Findable(1));
}

TEST_F(OutcomeStoreTest, AFailedDirectorySyncIsReportedUntilOneSucceeds) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(1)));
  env_.Inject(Fault(FaultOp::kSyncDir).Times(1));
  const Status s = store->Sync();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("cannot sync outcome directory"), std::string::npos) << s.ToString();
  ASSERT_OK(store->Sync());
  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  index_.Clear();
  store = Open();
  EXPECT_TRUE(Findable(1));
}

TEST_F(OutcomeStoreTest, ARefusedDeletionIsRetried) {
  auto store = Open(Options(1 << 20, 4 << 10));
  ASSERT_TRUE(store->Add(Rec(1, kT0, 5000)));
  ASSERT_OK(store->Flush());
  ASSERT_TRUE(store->Add(Rec(2, kT0 + 7200 * kSecond)));
  ASSERT_OK(store->Flush());
  env_.Inject(Fault(FaultOp::kRemove).Times(1));
  store->Expire(kT0 + 3601 * kSecond);
  EXPECT_EQ(store->files(), 2u);
  EXPECT_EQ(store->expired(), 0u);
  store->Expire(kT0 + 3601 * kSecond);
  EXPECT_EQ(store->files(), 1u);
  EXPECT_EQ(store->expired(), 1u);
}

TEST_F(OutcomeStoreTest, FilesAndDirectoryAreOwnerOnlyByDefault) {
  auto store = Open();
  ASSERT_TRUE(store->Add(Rec(1)));
  ASSERT_OK(store->Flush());
  EXPECT_EQ(mem_.FileMode(PathOf(1)), 0600);
}

// On the real file system: modes applied exactly (not filtered by the umask), the directory
// made to match.
TEST(OutcomeStoreFileTest, ModesAreExactOnDisk) {
  for (int mode : {0600, 0640}) {
    test::TempDir tmp;
    std::vector<outcome::OutcomeIndexEntry> entries(64);
    OutcomeStoreOptions o;
    o.file_mode = mode;
    const mode_t old_umask = ::umask(077);
    std::unique_ptr<OutcomeStore> store;
    ASSERT_OK(OutcomeStore::Open(io::Env::Default(), tmp.path(), o,
                                 outcome::OutcomeIndex(entries.data(), 64), kT0, &store));
    ASSERT_TRUE(store->Add(Rec(1)));
    ASSERT_OK(store->Sync());
    ::umask(old_umask);
    struct stat st {};
    ASSERT_EQ(::stat((tmp.path() + "/outcomes").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, static_cast<mode_t>(mode == 0600 ? 0700 : 0750));
    ASSERT_EQ(::stat((tmp.path() + "/outcomes/00000001.out").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, static_cast<mode_t>(mode));
  }
}

}  // namespace
}  // namespace taskring::daemon
