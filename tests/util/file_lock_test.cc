#include "util/file_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.h"

namespace taskring::util {
namespace {

class FileLockTest : public ::testing::Test {
 protected:
  test::TempDir tmp_;
  std::string path_ = tmp_.path() + "/LOCK";
};

TEST_F(FileLockTest, SecondHolderIsBusyAndLearnsTheFirstOnesPid) {
  FileLock first, second;
  std::string holder;
  ASSERT_OK(first.Acquire(path_, 0600, &holder));
  EXPECT_TRUE(second.Acquire(path_, 0600, &holder).IsBusy());
  EXPECT_EQ(holder, std::to_string(::getpid()));
}

TEST_F(FileLockTest, UnlinkAndReleaseLeavesNoFileAndFreesTheLock) {
  FileLock first, second;
  ASSERT_OK(first.Acquire(path_, 0600, nullptr));
  first.UnlinkAndRelease();
  struct stat st {};
  EXPECT_NE(::stat(path_.c_str(), &st), 0) << "a clean exit leaves nothing behind";
  ASSERT_OK(second.Acquire(path_, 0600, nullptr));
}

// Lockers that remove the file as they leave: one that opened the old file just before it was
// unlinked must not count its lock on that orphaned inode as holding the name, while another
// holds a lock on the new file. Each flock belongs to its own open file, so threads contend as
// processes would.
TEST_F(FileLockTest, UnlinkingHoldersNeverLetTwoHoldTheLockAtOnce) {
  std::atomic<int> holders{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> acquired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        FileLock lock;
        const Status s = lock.Acquire(path_, 0600, nullptr);
        if (!s.ok()) {
          ASSERT_TRUE(s.IsBusy()) << s.ToString();
          continue;
        }
        acquired.fetch_add(1);
        if (holders.fetch_add(1) != 0) overlaps.fetch_add(1);
        std::this_thread::yield();
        holders.fetch_sub(1);
        lock.UnlinkAndRelease();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(acquired.load(), 0);
  EXPECT_EQ(overlaps.load(), 0) << "two lockers held the lock at once";
}

}  // namespace
}  // namespace taskring::util
