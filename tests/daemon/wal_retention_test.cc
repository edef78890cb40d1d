#include "daemon/wal_retention.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "io/fault_injection_env.h"
#include "test_util.h"
#include "wal/wal_segment.h"

namespace taskring::daemon {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

class WalRetentionTest : public ::testing::Test {
 protected:
  void Touch(uint64_t segment) { std::ofstream(wal::SegmentPath(tmp_.path(), segment)) << "x"; }
  bool Exists(uint64_t segment) {
    return ::access(wal::SegmentPath(tmp_.path(), segment).c_str(), F_OK) == 0;
  }
  test::TempDir tmp_;
};

TEST_F(WalRetentionTest, OnlyTheUnpinnedPrefixIsDeletable) {
  WalRetention r(io::Env::Default(), tmp_.path(), 8, 1);
  r.Pin(0, 2);
  r.Pin(1, 4);
  EXPECT_EQ(r.Deletable(5), 1u) << "segment 1 only: 2 is pinned";
  r.Unpin(0);
  EXPECT_EQ(r.Deletable(5), 3u) << "1, 2 and 3; 4 is pinned";
  r.Pin(1, 5);  // re-logged forward: the old pin goes
  EXPECT_EQ(r.Deletable(5), 4u) << "never the segment being written";
  r.Pin(2, 1);
  r.Pin(3, 1);
  r.Unpin(2);
  EXPECT_EQ(r.Deletable(5), 0u) << "one of two jobs still pins segment 1";
  EXPECT_EQ(r.pinned_by(3), 1u);
  EXPECT_EQ(r.pinned_by(2), 0u);
  r.UnpinAll();
  EXPECT_EQ(r.Deletable(5), 4u);
}

TEST_F(WalRetentionTest, DeletesTheFilesAndRemembersWhereItStopped) {
  for (uint64_t s = 1; s <= 4; ++s) Touch(s);
  WalRetention r(io::Env::Default(), tmp_.path(), 8, 1);
  r.DeleteBefore(3, 0);
  EXPECT_FALSE(Exists(1));
  EXPECT_FALSE(Exists(2));
  EXPECT_TRUE(Exists(3));
  EXPECT_EQ(r.oldest(), 3u);
  // A file that cannot be deleted (here: a directory in its place) stops the deletion there.
  ASSERT_EQ(::unlink(wal::SegmentPath(tmp_.path(), 4).c_str()), 0);
  ASSERT_EQ(::mkdir(wal::SegmentPath(tmp_.path(), 4).c_str(), 0700), 0);
  r.DeleteBefore(6, 0);
  EXPECT_FALSE(Exists(3));
  EXPECT_TRUE(Exists(4));
  EXPECT_EQ(r.oldest(), 4u) << "tried again next time";
  EXPECT_FALSE(r.CollectionDue(6, kSecond - 1)) << "not within a second of the failure";
  EXPECT_TRUE(r.CollectionDue(6, kSecond));
}

TEST_F(WalRetentionTest, AFailedDirectorySyncIsRetriedEvenWithNothingLeftToDelete) {
  io::FaultInjectionEnv env(io::Env::Default());
  for (uint64_t s = 1; s <= 3; ++s) Touch(s);
  WalRetention r(&env, tmp_.path(), 8, 1);
  EXPECT_TRUE(r.CollectionDue(3, 0));
  env.Inject(io::FaultInjectionEnv::Fault(io::FaultInjectionEnv::Op::kSyncDir).Times(1));
  r.DeleteBefore(3, 10 * kSecond);
  EXPECT_FALSE(Exists(1));
  EXPECT_EQ(r.oldest(), 3u);
  EXPECT_EQ(r.Deletable(3), 0u);
  EXPECT_FALSE(r.CollectionDue(3, 10 * kSecond)) << "backing off";
  EXPECT_TRUE(r.CollectionDue(3, 11 * kSecond)) << "the deletions are not durable yet";
  r.DeleteBefore(3, 11 * kSecond);
  EXPECT_FALSE(r.CollectionDue(3, 12 * kSecond)) << "synced";
  EXPECT_EQ(env.injected_failures(), 1);
}

TEST_F(WalRetentionTest, AMissingFileCountsAsDeleted) {
  WalRetention r(io::Env::Default(), tmp_.path(), 8, 1);
  r.DeleteBefore(3, 0);
  EXPECT_EQ(r.oldest(), 3u);
}

TEST_F(WalRetentionTest, RelogsTheOldestSegmentOnlyWhenFarBehindPinnedAndNotTooOften) {
  WalRetention r(io::Env::Default(), tmp_.path(), 8, 1);
  r.Pin(0, 1);
  EXPECT_EQ(r.SegmentToRelog(2, 10 * kSecond), 0u) << "one rotation behind: not yet";
  EXPECT_EQ(r.SegmentToRelog(3, 10 * kSecond), 1u);
  EXPECT_EQ(r.SegmentToRelog(3, 10 * kSecond + kSecond - 1), 0u) << "at most once a second";
  EXPECT_EQ(r.SegmentToRelog(3, 11 * kSecond), 1u) << "still pinned (the re-log did not happen)";
  r.Pin(0, 3);
  EXPECT_EQ(r.SegmentToRelog(3, 20 * kSecond), 0u) << "nothing pins segment 1 any more";
}

TEST_F(WalRetentionTest, WithoutADirectoryNothingIsDeletable) {
  WalRetention r(io::Env::Default(), "", 8, 1);
  EXPECT_EQ(r.Deletable(10), 0u);
}

}  // namespace
}  // namespace taskring::daemon
