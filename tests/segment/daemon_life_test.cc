#include "segment/daemon_life.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "test_util.h"

namespace taskring::segment {
namespace {

// A header in shared memory with its daemon-life mutex set up as Segment::Create does it, seen
// through a writable mapping (the daemon's) and a read-only one (`taskring stat`'s).
class DaemonLifeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = ::memfd_create("daemon_life_test", 0);
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(::ftruncate(fd_, kHeaderBytes), 0);
    void* rw = ::mmap(nullptr, kHeaderBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    void* ro = ::mmap(nullptr, kHeaderBytes, PROT_READ, MAP_SHARED, fd_, 0);
    ASSERT_NE(rw, MAP_FAILED);
    ASSERT_NE(ro, MAP_FAILED);
    h_ = static_cast<SegmentHeader*>(rw);
    read_only_ = static_cast<const SegmentHeader*>(ro);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&h_->daemon_life, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  void TearDown() override {
    ::munmap(h_, kHeaderBytes);
    ::munmap(const_cast<SegmentHeader*>(read_only_), kHeaderBytes);
    ::close(fd_);
  }
  // Both views agree; the read-only one must not fault.
  bool Held() const {
    const bool held = DaemonLifeHeld(h_);
    EXPECT_EQ(DaemonLifeHeld(read_only_), held);
    return held;
  }

  int fd_ = -1;
  SegmentHeader* h_ = nullptr;
  const SegmentHeader* read_only_ = nullptr;
};

TEST_F(DaemonLifeTest, NeverLockedIsNotHeld) { EXPECT_FALSE(Held()); }

TEST_F(DaemonLifeTest, HeldWhileTheHolderLivesAndFreeOnceReleased) {
  ASSERT_EQ(pthread_mutex_lock(&h_->daemon_life), 0);
  EXPECT_TRUE(Held()) << "seen by the holding thread";
  bool other = false;
  std::thread([&] { other = DaemonLifeHeld(read_only_); }).join();
  EXPECT_TRUE(other) << "seen by another thread";
  ASSERT_EQ(pthread_mutex_unlock(&h_->daemon_life), 0);
  EXPECT_FALSE(Held());
}

TEST_F(DaemonLifeTest, HolderThreadThatExitsWithoutUnlockingIsDead) {
  std::thread([&] { ASSERT_EQ(pthread_mutex_lock(&h_->daemon_life), 0); }).join();
  EXPECT_FALSE(Held());
  EXPECT_FALSE(Held()) << "checking changes nothing";
}

TEST_F(DaemonLifeTest, HolderProcessIsAliveUntilKilled) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (pthread_mutex_lock(&h_->daemon_life) != 0) _exit(1);
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) _exit(1);
    for (;;) ::pause();
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_TRUE(Held());
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_FALSE(Held()) << "the kernel marked it OWNER_DIED";
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_F(DaemonLifeTest, HolderProcessThatExitsWithoutUnlockingIsDead) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(pthread_mutex_lock(&h_->daemon_life) == 0 ? 0 : 1);
  ASSERT_EQ(test::WaitChild(child), 0);
  EXPECT_FALSE(Held());
}

}  // namespace
}  // namespace taskring::segment
