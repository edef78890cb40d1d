// Dead-letter files: encoding, damage detection, and the store's file handling.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "deadletter/dead_letter.h"
#include "deadletter/dead_letter_store.h"
#include "io/fault_injection_env.h"
#include "io/mem_env.h"
#include "test_util.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/job_meta.h"

namespace taskring::deadletter {
namespace {

DeadLetter Sample(uint64_t id) {
  DeadLetter d;
  d.job_id = id;
  d.attempts = 3;
  d.max_attempts = 3;
  d.enqueued_unix_ns = 1'700'000'000'000'000'000ULL;
  d.dead_unix_ns = 1'700'000'001'000'000'000ULL;
  d.reason = DeadReason::kLost;
  d.payload = std::string("bin\0ary\xff", 8);
  d.priority = 8;
  d.timeout_ms = 1500;
  util::JobMeta meta;
  meta.type = "email.send";
  meta.key = "k-" + std::to_string(id);
  meta.headers = {{"trace-id", "abc"}};
  EXPECT_OK(util::EncodeJobMeta(meta, &d.meta));
  return d;
}

TEST(DeadLetterTest, RoundTrips) {
  std::string buf;
  EncodeDeadLetter(Sample(7), &buf);
  DeadLetter out;
  ASSERT_OK(DecodeDeadLetter(buf, &out));
  EXPECT_EQ(out, Sample(7));
}

TEST(DeadLetterTest, EveryFlippedBitAndEveryTruncationIsCorruption) {
  std::string buf;
  EncodeDeadLetter(Sample(7), &buf);
  DeadLetter out;
  for (size_t i = 0; i < buf.size() * 8; ++i) {
    std::string bad = buf;
    bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
    EXPECT_TRUE(DecodeDeadLetter(bad, &out).IsCorruption()) << "bit " << i;
  }
  for (size_t n = 0; n < buf.size(); ++n) {
    EXPECT_TRUE(DecodeDeadLetter(std::string_view(buf).substr(0, n), &out).IsCorruption()) << n;
  }
  EXPECT_TRUE(DecodeDeadLetter(buf + "x", &out).IsCorruption());
}

// A letter written before job meta (version 1) still reads, with the defaults.
TEST(DeadLetterTest, AVersion1LetterReadsWithDefaults) {
  DeadLetter v1 = Sample(9);
  v1.priority = 5;
  v1.timeout_ms = 0;
  v1.meta.clear();
  std::string body;
  body.push_back(1);
  body.push_back(static_cast<char>(v1.reason));
  util::PutFixed64(&body, v1.job_id);
  util::PutFixed32(&body, v1.attempts);
  util::PutFixed32(&body, v1.max_attempts);
  util::PutFixed64(&body, v1.enqueued_unix_ns);
  util::PutFixed64(&body, v1.dead_unix_ns);
  util::PutFixed32(&body, static_cast<uint32_t>(v1.payload.size()));
  body += v1.payload;
  std::string file = "TRDEAD01";
  util::PutFixed32(&file, util::crc32c::Mask(util::crc32c::Value(body.data(), body.size())));
  util::PutFixed32(&file, static_cast<uint32_t>(body.size()));
  file += body;
  DeadLetter out;
  ASSERT_OK(DecodeDeadLetter(file, &out));
  EXPECT_EQ(out, v1);
}

TEST(DeadLetterTest, ABadMetaOrPriorityIsCorruption) {
  DeadLetter d = Sample(3);
  d.meta = std::string("\x03a b\x00\x00", 6);  // a type with a space
  std::string buf;
  EncodeDeadLetter(d, &buf);
  DeadLetter out;
  EXPECT_TRUE(DecodeDeadLetter(buf, &out).IsCorruption());
  d = Sample(3);
  d.priority = 10;
  buf.clear();
  EncodeDeadLetter(d, &buf);
  EXPECT_TRUE(DecodeDeadLetter(buf, &out).IsCorruption());
}

class DeadLetterStoreTest : public ::testing::Test {
 protected:
  test::TempDir tmp_;
  std::unique_ptr<DeadLetterStore> Open(bool create) {
    std::unique_ptr<DeadLetterStore> store;
    EXPECT_OK(DeadLetterStore::Open(tmp_.path(), 0600, create, &store));
    return store;
  }
};

TEST_F(DeadLetterStoreTest, MissingDirectoryIsNotFoundUnlessCreated) {
  std::unique_ptr<DeadLetterStore> store;
  EXPECT_TRUE(DeadLetterStore::Open(tmp_.path(), 0600, false, &store).IsNotFound());
  store = Open(true);
  struct stat st {};
  ASSERT_EQ(::stat(store->dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "owner-only by default";
}

TEST_F(DeadLetterStoreTest, WritesListsReadsAndRemovesInIdOrder) {
  auto store = Open(true);
  for (uint64_t id : {30u, 4u, 12u}) ASSERT_OK(store->Write(Sample(id)));
  ASSERT_OK(store->SyncDir());
  std::vector<uint64_t> ids;
  ASSERT_OK(store->List(&ids));
  EXPECT_EQ(ids, (std::vector<uint64_t>{4, 12, 30}));
  DeadLetter d;
  ASSERT_OK(store->Read(12, &d));
  EXPECT_EQ(d, Sample(12));
  struct stat st {};
  ASSERT_EQ(::stat((store->dir() + "/00000000000000000012.dead").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK(store->Remove(12));
  EXPECT_TRUE(store->Remove(12).IsNotFound());
  EXPECT_TRUE(store->Read(12, &d).IsNotFound());
  ASSERT_OK(store->List(&ids));
  EXPECT_EQ(ids, (std::vector<uint64_t>{4, 30}));
}

TEST_F(DeadLetterStoreTest, ForeignFilesAreSkippedAndDamagedOnesRefused) {
  auto store = Open(true);
  std::ofstream(store->dir() + "/notes.txt") << "hello";
  std::ofstream(store->dir() + "/12.dead") << "short name";
  std::ofstream(store->dir() + "/.tmp-00000000000000000009.dead") << "half written";
  std::ofstream(store->dir() + "/00000000000000000005.dead") << "garbage, not a letter";
  ASSERT_OK(store->Write(Sample(6)));
  ASSERT_EQ(::rename((store->dir() + "/00000000000000000006.dead").c_str(),
                     (store->dir() + "/00000000000000000008.dead").c_str()),
            0);
  std::vector<uint64_t> ids;
  ASSERT_OK(store->List(&ids));
  EXPECT_EQ(ids, (std::vector<uint64_t>{5, 8}));
  DeadLetter d;
  const Status garbage = store->Read(5, &d);
  EXPECT_TRUE(garbage.IsCorruption()) << garbage.ToString();
  EXPECT_NE(garbage.ToString().find("00000000000000000005.dead"), std::string::npos);
  EXPECT_TRUE(store->Read(8, &d).IsCorruption()) << "a file renamed to another job's id";
  store->RemoveTempFiles();
  struct stat st {};
  EXPECT_NE(::stat((store->dir() + "/.tmp-00000000000000000009.dead").c_str(), &st), 0);
  EXPECT_EQ(::stat((store->dir() + "/notes.txt").c_str(), &st), 0) << "only temp files go";
}

TEST(DeadLetterStorePowerLossTest, ALetterIsDurableOnlyOnceSyncDirSucceeds) {
  io::MemEnv mem;
  ASSERT_OK(mem.CreateDir("/q", 0700));
  io::FaultInjectionEnv env(&mem);
  std::unique_ptr<DeadLetterStore> store;
  ASSERT_OK(DeadLetterStore::Open("/q", 0600, /*create=*/true, &store, &env));

  // The directory sync fails: returned to the caller (no DEAD record may follow), and a power
  // loss takes the letter away.
  ASSERT_OK(store->Write(Sample(1)));
  env.Inject(io::FaultInjectionEnv::Fault(io::FaultInjectionEnv::Op::kSyncDir).Times(1));
  const Status s = store->SyncDir();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("cannot sync /q/dead"), std::string::npos) << s.ToString();
  ASSERT_OK(env.DropUnsyncedData());
  std::vector<uint64_t> ids;
  ASSERT_OK(store->List(&ids));
  EXPECT_TRUE(ids.empty());

  // Written again and synced: it survives, and no temp file is left.
  ASSERT_OK(store->Write(Sample(1)));
  ASSERT_OK(store->SyncDir());
  ASSERT_OK(env.DropUnsyncedData());
  ASSERT_OK(store->List(&ids));
  EXPECT_EQ(ids, (std::vector<uint64_t>{1}));
  DeadLetter d;
  ASSERT_OK(store->Read(1, &d));
  EXPECT_EQ(d, Sample(1));
  std::vector<std::string> names;
  ASSERT_OK(env.GetChildren("/q/dead", &names));
  EXPECT_EQ(names.size(), 1u);
}

TEST(DeadLetterStorePowerLossTest, AFailedWriteLeavesNoTempFile) {
  io::MemEnv mem;
  io::FaultInjectionEnv env(&mem);
  std::unique_ptr<DeadLetterStore> store;
  ASSERT_OK(DeadLetterStore::Open("/q", 0600, /*create=*/true, &store, &env));
  env.Inject(io::FaultInjectionEnv::Fault(io::FaultInjectionEnv::Op::kWrite).Error(ENOSPC));
  const Status s = store->Write(Sample(2));
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("cannot write dead letter /q/dead/.tmp-"), std::string::npos)
      << s.ToString();
  std::vector<std::string> names;
  ASSERT_OK(env.GetChildren("/q/dead", &names));
  EXPECT_TRUE(names.empty());
}

}  // namespace
}  // namespace taskring::deadletter
