#include "util/process.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace taskring::util {
namespace {

TEST(ProcessTest, SelfIsAliveWithItsOwnStartTime) {
  const uint64_t ticks = ProcessStartTicks(::getpid());
  ASSERT_NE(ticks, 0u);
  EXPECT_TRUE(ProcessAlive(::getpid(), ticks));
  EXPECT_FALSE(ProcessAlive(::getpid(), ticks + 1)) << "a recycled pid has another start time";
}

TEST(ProcessTest, ExitedChildIsDeadEvenBeforeItIsReaped) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    _exit(0);
  }
  const uint64_t ticks = ProcessStartTicks(pid);
  ASSERT_NE(ticks, 0u);
  EXPECT_TRUE(ProcessAlive(pid, ticks));
  ::kill(pid, SIGKILL);
  // Until waitpid it is a zombie: it must already count as dead.
  for (int i = 0; i < 1000 && ProcessAlive(pid, ticks); ++i) ::usleep(1000);
  EXPECT_FALSE(ProcessAlive(pid, ticks));
  ::waitpid(pid, nullptr, 0);
  EXPECT_FALSE(ProcessAlive(pid, ticks));
  EXPECT_EQ(ProcessStartTicks(pid), 0u);
}

TEST(ProcessTest, NonsensePidsAreDead) {
  EXPECT_FALSE(ProcessAlive(0, 0));
  EXPECT_FALSE(ProcessAlive(-5, 0));
}

}  // namespace
}  // namespace taskring::util
