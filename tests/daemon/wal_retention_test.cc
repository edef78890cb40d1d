#include "daemon/wal_retention.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

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
  WalRetention r(tmp_.path(), 8, 1);
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
  WalRetention r(tmp_.path(), 8, 1);
  r.DeleteBefore(3);
  EXPECT_FALSE(Exists(1));
  EXPECT_FALSE(Exists(2));
  EXPECT_TRUE(Exists(3));
  EXPECT_EQ(r.oldest(), 3u);
  // A file that cannot be deleted (here: a directory in its place) stops the deletion there.
  ASSERT_EQ(::unlink(wal::SegmentPath(tmp_.path(), 4).c_str()), 0);
  ASSERT_EQ(::mkdir(wal::SegmentPath(tmp_.path(), 4).c_str(), 0700), 0);
  r.DeleteBefore(6);
  EXPECT_FALSE(Exists(3));
  EXPECT_TRUE(Exists(4));
  EXPECT_EQ(r.oldest(), 4u) << "tried again next time";
}

TEST_F(WalRetentionTest, AMissingFileCountsAsDeleted) {
  WalRetention r(tmp_.path(), 8, 1);
  r.DeleteBefore(3);
  EXPECT_EQ(r.oldest(), 3u);
}

TEST_F(WalRetentionTest, RelogsTheOldestSegmentOnlyWhenFarBehindPinnedAndNotTooOften) {
  WalRetention r(tmp_.path(), 8, 1);
  r.Pin(0, 1);
  EXPECT_EQ(r.SegmentToRelog(2, 10 * kSecond), 0u) << "one rotation behind: not yet";
  EXPECT_EQ(r.SegmentToRelog(3, 10 * kSecond), 1u);
  EXPECT_EQ(r.SegmentToRelog(3, 10 * kSecond + kSecond - 1), 0u) << "at most once a second";
  EXPECT_EQ(r.SegmentToRelog(3, 11 * kSecond), 1u) << "still pinned (the re-log did not happen)";
  r.Pin(0, 3);
  EXPECT_EQ(r.SegmentToRelog(3, 20 * kSecond), 0u) << "nothing pins segment 1 any more";
}

TEST_F(WalRetentionTest, WithoutADirectoryNothingIsDeletable) {
  WalRetention r("", 8, 1);
  EXPECT_EQ(r.Deletable(10), 0u);
}

}  // namespace
}  // namespace taskring::daemon
