// DedupStore: the idempotency keys of the dedup window, in memory and in DIR/keys.
#include "daemon/dedup_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "io/fault_injection_env.h"
#include "io/mem_env.h"
#include "test_util.h"
#include "wal/key_file_format.h"

namespace taskring::daemon {
namespace {

using Fault = io::FaultInjectionEnv::Fault;
using FaultOp = io::FaultInjectionEnv::Op;

constexpr uint64_t kSecond = 1'000'000'000ULL;
constexpr uint64_t kWindow = 24 * 3600 * kSecond;
constexpr uint64_t kT0 = 1'764'000'000'000'000'000ULL;
constexpr size_t kMaxKeys = 1'000'000;
constexpr char kDir[] = "/q";
constexpr char kPath[] = "/q/keys";

std::string Key(int i) { return "key-" + std::to_string(i); }

class DedupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(mem_.CreateDir(kDir, 0700)); }

  std::unique_ptr<DedupStore> Open(uint64_t now = kT0, uint64_t window = kWindow,
                                   size_t max_keys = kMaxKeys) {
    std::unique_ptr<DedupStore> store;
    Status s = DedupStore::Open(&env_, kDir, window, max_keys, now, 0600, &store);
    EXPECT_OK(s);
    return store;
  }

  std::string FileBytes() {
    std::string data;
    EXPECT_OK(io::ReadFileToString(&mem_, kPath, &data));
    return data;
  }

  void WriteFileBytes(const std::string& bytes) {
    std::unique_ptr<io::WritableFile> f;
    ASSERT_OK(mem_.NewWritableFile(kPath, {}, &f));
    ASSERT_OK(f->Write(0, bytes));
    ASSERT_OK(f->Close());
  }

  io::MemEnv mem_;
  io::FaultInjectionEnv env_{&mem_};
};

TEST_F(DedupStoreTest, FindAnswersTheJobOfAnAddedKey) {
  auto store = Open();
  EXPECT_FALSE(store->Find("a", kT0).has_value());
  EXPECT_TRUE(store->Add("a", 7, kT0));
  EXPECT_EQ(store->Find("a", kT0), 7u);
  EXPECT_FALSE(store->Find("b", kT0).has_value());
  EXPECT_EQ(store->size(), 1u);
  EXPECT_TRUE(store->dirty());
}

TEST_F(DedupStoreTest, ALiveKeyKeepsItsFirstJobId) {
  auto store = Open();
  ASSERT_TRUE(store->Add("a", 7, kT0));
  EXPECT_FALSE(store->Add("a", 8, kT0 + kSecond));
  EXPECT_EQ(store->Find("a", kT0 + kSecond), 7u);
}

// A key evicted (--dedup-max), used again for a new job, and the daemon crashed before the key
// file caught up: the file still names the old job, the WAL the new one, which must win.
TEST_F(DedupStoreTest, AddFromLogLetsALaterJobOfAKeyReplaceTheFileEntry) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add("a", 7, kT0));
    ASSERT_OK(store->Persist());
  }
  auto store = Open(kT0 + kSecond);
  EXPECT_FALSE(store->AddFromLog("a", 5, kT0)) << "an older job never replaces";
  EXPECT_FALSE(store->AddFromLog("a", 7, kT0)) << "the same job: nothing changes";
  EXPECT_TRUE(store->AddFromLog("a", 12, kT0 + kSecond));
  EXPECT_EQ(store->Find("a", kT0 + kSecond), 12u);
  EXPECT_TRUE(store->AddFromLog("b", 13, kT0 + kSecond));
  ASSERT_OK(store->Persist());
  auto reopened = Open(kT0 + 2 * kSecond);
  EXPECT_EQ(reopened->Find("a", kT0 + 2 * kSecond), 12u);
}

TEST_F(DedupStoreTest, InvalidKeysAndJobIdZeroAreNotStored) {
  auto store = Open();
  EXPECT_FALSE(store->Add("", 1, kT0));
  EXPECT_FALSE(store->Add("with space", 1, kT0));
  EXPECT_FALSE(store->Add(std::string(wal::kMaxKeyBytes + 1, 'k'), 1, kT0));
  EXPECT_FALSE(store->Add("ok", 0, kT0));
  EXPECT_EQ(store->size(), 0u);
  EXPECT_FALSE(store->dirty());
}

TEST_F(DedupStoreTest, KeysExpireAfterTheWindow) {
  auto store = Open();
  ASSERT_TRUE(store->Add("a", 7, kT0));
  ASSERT_TRUE(store->Add("b", 8, kT0 + 10 * kSecond));
  EXPECT_EQ(store->Find("a", kT0 + kWindow - 1), 7u);
  EXPECT_FALSE(store->Find("a", kT0 + kWindow).has_value()) << "expired before Expire() runs";
  store->Expire(kT0 + kWindow - 1);
  EXPECT_EQ(store->size(), 2u);
  store->Expire(kT0 + kWindow);
  EXPECT_EQ(store->size(), 1u) << "only a is due";
  EXPECT_EQ(store->Find("b", kT0 + kWindow), 8u);
  // An expired key is a new key again.
  EXPECT_TRUE(store->Add("a", 9, kT0 + kWindow));
  EXPECT_EQ(store->Find("a", kT0 + kWindow), 9u);
}

TEST_F(DedupStoreTest, AddReplacesAnExpiredEntryNotYetDropped) {
  auto store = Open();
  ASSERT_TRUE(store->Add("a", 7, kT0));
  EXPECT_TRUE(store->Add("a", 9, kT0 + kWindow));
  EXPECT_EQ(store->Find("a", kT0 + kWindow), 9u);
  EXPECT_EQ(store->size(), 1u);
}

TEST_F(DedupStoreTest, TheOldestAreEvictedBeyondMaxKeys) {
  auto store = Open(kT0, kWindow, 3);
  // Added out of time order: eviction goes by first_seen, not by insertion.
  ASSERT_TRUE(store->Add("c", 3, kT0 + 3));
  ASSERT_TRUE(store->Add("a", 1, kT0 + 1));
  ASSERT_TRUE(store->Add("b", 2, kT0 + 2));
  EXPECT_EQ(store->evicted(), 0u);
  ASSERT_TRUE(store->Add("d", 4, kT0 + 4));
  EXPECT_EQ(store->size(), 3u);
  EXPECT_EQ(store->evicted(), 1u);
  EXPECT_FALSE(store->Find("a", kT0 + 5).has_value());
  EXPECT_EQ(store->Find("b", kT0 + 5), 2u);
  ASSERT_TRUE(store->Add("e", 5, kT0 + 5));
  EXPECT_FALSE(store->Find("b", kT0 + 5).has_value());
  EXPECT_EQ(store->evicted(), 2u);
}

TEST_F(DedupStoreTest, ZeroWindowOrMaxKeysIsInvalid) {
  std::unique_ptr<DedupStore> store;
  EXPECT_TRUE(DedupStore::Open(&env_, kDir, 0, 10, kT0, 0600, &store).IsInvalidArgument());
  EXPECT_TRUE(DedupStore::Open(&env_, kDir, kWindow, 0, kT0, 0600, &store).IsInvalidArgument());
}

TEST_F(DedupStoreTest, PersistedKeysSurviveAReopen) {
  {
    auto store = Open();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Add(Key(i), 100 + i, kT0 + i));
    ASSERT_OK(store->Persist());
    EXPECT_FALSE(store->dirty());
    ASSERT_TRUE(store->Add(Key(10), 110, kT0 + 10));
    ASSERT_OK(store->Persist());
  }
  auto store = Open(kT0 + kSecond);
  EXPECT_EQ(store->size(), 11u);
  EXPECT_FALSE(store->dirty());
  EXPECT_EQ(store->file_records(), 11u);
  for (int i = 0; i <= 10; ++i) EXPECT_EQ(store->Find(Key(i), kT0 + kSecond), 100u + i) << i;
  EXPECT_FALSE(store->Add(Key(3), 999, kT0 + kSecond)) << "first id kept across restarts";
}

TEST_F(DedupStoreTest, ExpiredKeysAreDroppedOnOpen) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add("old", 1, kT0));
    ASSERT_TRUE(store->Add("new", 2, kT0 + kWindow / 2));
    ASSERT_OK(store->Persist());
  }
  auto store = Open(kT0 + kWindow);
  EXPECT_EQ(store->size(), 1u);
  EXPECT_FALSE(store->Find("old", kT0 + kWindow).has_value());
  EXPECT_EQ(store->Find("new", kT0 + kWindow), 2u);
}

TEST_F(DedupStoreTest, TheLaterRecordOfAKeyWinsOnOpen) {
  {
    auto store = Open(kT0, kWindow, 2);
    ASSERT_TRUE(store->Add("k", 1, kT0));
    ASSERT_OK(store->Persist());
    ASSERT_TRUE(store->Add("x", 2, kT0 + 1));
    ASSERT_TRUE(store->Add("y", 3, kT0 + 2));  // evicts k
    ASSERT_TRUE(store->Add("k", 4, kT0 + 3));  // a new job for k; evicts x
    ASSERT_OK(store->Persist());
  }
  auto store = Open(kT0 + 10, kWindow, 2);
  EXPECT_EQ(store->Find("k", kT0 + 10), 4u);
  EXPECT_EQ(store->Find("y", kT0 + 10), 3u);
  EXPECT_FALSE(store->Find("x", kT0 + 10).has_value());
}

TEST_F(DedupStoreTest, OpenEvictsBeyondASmallerMaxKeys) {
  {
    auto store = Open();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(store->Add(Key(i), 1 + i, kT0 + i));
    ASSERT_OK(store->Persist());
  }
  auto store = Open(kT0 + 10, kWindow, 3);
  EXPECT_EQ(store->size(), 3u);
  EXPECT_EQ(store->evicted(), 2u);
  EXPECT_FALSE(store->Find(Key(1), kT0 + 10).has_value());
  EXPECT_EQ(store->Find(Key(2), kT0 + 10), 3u);
}

TEST_F(DedupStoreTest, PowerLossAfterPersistKeepsTheKeys) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add("a", 1, kT0));
    ASSERT_TRUE(store->Add("b", 2, kT0));
    ASSERT_OK(store->Persist());
    ASSERT_TRUE(store->Add("c", 3, kT0));  // never persisted
  }
  ASSERT_OK(env_.DropUnsyncedData());
  auto store = Open();
  EXPECT_EQ(store->Find("a", kT0), 1u);
  EXPECT_EQ(store->Find("b", kT0), 2u);
  EXPECT_FALSE(store->Find("c", kT0).has_value());
  EXPECT_EQ(store->truncated_bytes(), 0u);
}

TEST_F(DedupStoreTest, PowerLossBeforeTheFirstPersistLeavesAnEmptyStore) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add("a", 1, kT0));
  }
  ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(FileBytes(), "TRKEYS01") << "the new file and its name were made durable by Open";
  auto store = Open();
  EXPECT_EQ(store->size(), 0u);
}

TEST_F(DedupStoreTest, ATornTailIsCutOnOpenAndAppendsContinueAfterIt) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Add("a", 1, kT0));
    ASSERT_OK(store->Persist());
  }
  const std::string good = FileBytes();
  std::string record;
  wal::EncodeKeyRecord("b", kT0, 2, &record);
  WriteFileBytes(good + record.substr(0, record.size() - 3));  // an append cut short
  {
    auto store = Open();
    EXPECT_EQ(store->truncated_bytes(), record.size() - 3);
    EXPECT_EQ(FileBytes(), good);
    EXPECT_EQ(store->Find("a", kT0), 1u);
    ASSERT_TRUE(store->Add("c", 3, kT0));
    ASSERT_OK(store->Persist());
  }
  auto store = Open();
  EXPECT_EQ(store->Find("a", kT0), 1u);
  EXPECT_EQ(store->Find("c", kT0), 3u);
  EXPECT_EQ(store->truncated_bytes(), 0u);
}

TEST_F(DedupStoreTest, AHeaderCutShortIsReplacedByANewFile) {
  WriteFileBytes("TRKE");
  auto store = Open();
  EXPECT_EQ(store->truncated_bytes(), 4u);
  EXPECT_EQ(FileBytes(), "TRKEYS01");
}

TEST_F(DedupStoreTest, CorruptionInTheMiddleRefusesToOpenAndNamesTheFile) {
  {
    auto store = Open();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Add(Key(i), 1 + i, kT0));
    ASSERT_OK(store->Persist());
  }
  std::string bytes = FileBytes();
  bytes[wal::kKeyFileHeaderSize + wal::kKeyRecordHeaderSize + 1] ^= 0x20;  // first record's key
  WriteFileBytes(bytes);
  std::unique_ptr<DedupStore> store;
  const Status s = DedupStore::Open(&env_, kDir, kWindow, kMaxKeys, kT0, 0600, &store);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(kPath), std::string::npos) << s.ToString();
  EXPECT_EQ(FileBytes(), bytes) << "left in place for a human";
}

TEST_F(DedupStoreTest, AnotherFormatVersionIsIncompatible) {
  WriteFileBytes("TRKEYS07");
  std::unique_ptr<DedupStore> store;
  const Status s = DedupStore::Open(&env_, kDir, kWindow, kMaxKeys, kT0, 0600, &store);
  EXPECT_TRUE(s.IsIncompatible()) << s.ToString();
  EXPECT_NE(s.message().find(kPath), std::string::npos) << s.ToString();
}

TEST_F(DedupStoreTest, AWriteErrorFailsPersistAndALaterPersistLosesNothing) {
  auto store = Open();
  ASSERT_TRUE(store->Add("a", 1, kT0));
  ASSERT_OK(store->Persist());
  ASSERT_TRUE(store->Add("b", 2, kT0));
  ASSERT_TRUE(store->Add("c", 3, kT0));
  env_.Inject(Fault(FaultOp::kWrite).Times(1).Error(ENOSPC).PartialBytes(10));
  const Status s = store->Persist();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find(kPath), std::string::npos) << s.ToString();
  EXPECT_TRUE(store->dirty());
  env_.ClearFaults();
  ASSERT_OK(store->Persist());
  EXPECT_FALSE(store->dirty());
  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  store = Open();
  EXPECT_EQ(store->truncated_bytes(), 0u) << "the partial append was not left behind";
  EXPECT_EQ(store->size(), 3u);
  EXPECT_EQ(store->Find("b", kT0), 2u);
  EXPECT_EQ(store->Find("c", kT0), 3u);
}

TEST_F(DedupStoreTest, ASyncErrorFailsPersistAndALaterPersistLosesNothing) {
  auto store = Open();
  ASSERT_TRUE(store->Add("a", 1, kT0));
  env_.Inject(Fault(FaultOp::kSync).Times(1));
  EXPECT_TRUE(store->Persist().IsIOError());
  EXPECT_TRUE(store->dirty());
  ASSERT_OK(store->Persist());
  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  store = Open();
  EXPECT_EQ(store->Find("a", kT0), 1u);
}

TEST_F(DedupStoreTest, EveryStepOfARewriteCanFailAndBeRetried) {
  for (FaultOp op :
       {FaultOp::kCreate, FaultOp::kWrite, FaultOp::kSync, FaultOp::kRename, FaultOp::kSyncDir}) {
    SCOPED_TRACE(static_cast<int>(op));
    (void)mem_.RemoveFile(kPath);
    auto store = Open();
    ASSERT_TRUE(store->Add("a", 1, kT0));
    env_.Inject(Fault(FaultOp::kWrite).Times(1));
    ASSERT_FALSE(store->Persist().ok());  // from now on Persist rewrites the file whole
    env_.Inject(Fault(op).Times(1));
    ASSERT_TRUE(store->Add("b", 2, kT0));
    const int failures = env_.injected_failures();
    EXPECT_FALSE(store->Persist().ok());
    EXPECT_EQ(env_.injected_failures(), failures + 1) << "the fault was hit";
    EXPECT_TRUE(store->dirty());
    ASSERT_OK(store->Persist());
    EXPECT_FALSE(store->dirty());
    store.reset();
    ASSERT_OK(env_.DropUnsyncedData());
    store = Open();
    EXPECT_EQ(store->Find("a", kT0), 1u);
    EXPECT_EQ(store->Find("b", kT0), 2u);
    std::vector<std::string> names;
    ASSERT_OK(mem_.GetChildren(kDir, &names));
    EXPECT_EQ(names, std::vector<std::string>{"keys"}) << "no temp file left";
    env_.ClearFaults();
  }
}

TEST_F(DedupStoreTest, CompactionKeepsExactlyTheLiveKeysAndBoundsTheFile) {
  // A short window: about 1000 keys live at a time, 30000 added over the test.
  constexpr uint64_t kShortWindow = 1000 * kSecond;
  constexpr int kKeys = 30000;
  constexpr int kBatch = 100;
  auto store = Open(kT0, kShortWindow);
  uint64_t now = kT0;
  for (int i = 0; i < kKeys; ++i) {
    now = kT0 + static_cast<uint64_t>(i) * kSecond;
    store->Expire(now);
    ASSERT_TRUE(store->Add(Key(i), 1 + i, now));
    if ((i + 1) % kBatch == 0) {
      ASSERT_OK(store->Persist());
      EXPECT_LE(store->file_records(), 2 * store->size() + DedupStore::kCompactionSlack + kBatch);
    }
  }
  ASSERT_OK(store->Persist());
  const size_t live = store->size();
  EXPECT_EQ(live, 1000u);
  const uint64_t max_bytes =
      wal::kKeyFileHeaderSize +
      (2 * live + DedupStore::kCompactionSlack + kBatch) * wal::kMaxKeyRecordSize;
  EXPECT_LE(FileBytes().size(), max_bytes);
  EXPECT_LT(store->file_records(), static_cast<uint64_t>(kKeys) / 2) << "it did compact";

  store.reset();
  ASSERT_OK(env_.DropUnsyncedData());
  store = Open(now, kShortWindow);
  EXPECT_EQ(store->size(), live);
  for (int i = 0; i < kKeys; ++i) {
    const bool is_live = i > kKeys - 1 - static_cast<int>(live);
    EXPECT_EQ(store->Find(Key(i), now).has_value(), is_live) << i;
    if (is_live) {
      EXPECT_EQ(store->Find(Key(i), now), 1u + i);
    }
  }
}

TEST_F(DedupStoreTest, PersistCompactsAFileOfExpiredKeysEvenWhenNothingIsNew) {
  auto store = Open();
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(store->Add(Key(i), 1 + i, kT0));
  ASSERT_OK(store->Persist());
  ASSERT_TRUE(store->Add("late", 9, kT0 + kWindow / 2));
  ASSERT_OK(store->Persist());
  store->Expire(kT0 + kWindow);
  EXPECT_FALSE(store->dirty());
  ASSERT_OK(store->Persist());
  EXPECT_EQ(store->file_records(), 1u);
  store.reset();
  store = Open(kT0 + kWindow);
  EXPECT_EQ(store->size(), 1u);
  EXPECT_EQ(store->Find("late", kT0 + kWindow), 9u);
}

TEST_F(DedupStoreTest, AStaleTempFileIsRemovedOnOpen) {
  std::unique_ptr<io::WritableFile> f;
  ASSERT_OK(mem_.NewWritableFile(std::string(kPath) + ".tmp", {}, &f));
  ASSERT_OK(f->Write(0, "half a compaction"));
  ASSERT_OK(f->Close());
  auto store = Open();
  std::vector<std::string> names;
  ASSERT_OK(mem_.GetChildren(kDir, &names));
  EXPECT_EQ(names, std::vector<std::string>{"keys"});
}

TEST_F(DedupStoreTest, TheFileIsOwnerOnlyByDefault) {
  auto store = Open();
  EXPECT_EQ(mem_.FileMode(kPath), 0600);
}

// On the real file system: the mode is applied exactly (not filtered by the umask), at creation
// and by compaction.
TEST(DedupStoreFileTest, TheModeIsExactOnDisk) {
  for (int mode : {0600, 0640}) {
    test::TempDir tmp;
    const std::string path = tmp.path() + "/keys";
    const mode_t old_umask = ::umask(077);
    std::unique_ptr<DedupStore> store;
    ASSERT_OK(
        DedupStore::Open(io::Env::Default(), tmp.path(), kWindow, kMaxKeys, kT0, mode, &store));
    ::umask(old_umask);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, static_cast<mode_t>(mode));
    ASSERT_TRUE(store->Add("a", 1, kT0));
    ASSERT_OK(store->Persist());
    store.reset();
    ASSERT_OK(
        DedupStore::Open(io::Env::Default(), tmp.path(), kWindow, kMaxKeys, kT0, mode, &store));
    EXPECT_EQ(store->Find("a", kT0), 1u);
  }
}

}  // namespace
}  // namespace taskring::daemon
