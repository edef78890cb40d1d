// The spin-then-sleep hand-off: a sleeper is always woken, and a waker pays no syscall when
// nobody sleeps (sleepers stays 0).
#include "util/futex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace taskring::util {
namespace {

TEST(FutexTest, NoWakeUpIsLostAcrossManyHandOffs) {
  std::atomic<uint32_t> word{0}, sleepers{0};
  std::atomic<uint64_t> published{0};
  constexpr uint64_t kRounds = 20000;
  std::thread consumer([&] {
    for (uint64_t seen = 0; seen < kRounds;) {
      // No spinning and no timeout: a lost wake-up would hang this test.
      if (SpinThenWait(&word, &sleepers, 0, 0, [&] { return published.load() > seen; })) {
        seen = published.load();
      }
    }
  });
  for (uint64_t i = 1; i <= kRounds; ++i) {
    published.store(i);
    WakeIfSleepers(&word, &sleepers, 1);
  }
  consumer.join();
  EXPECT_EQ(sleepers.load(), 0u);
}

TEST(FutexTest, WaitTimesOutWhenNothingArrives) {
  std::atomic<uint32_t> word{0}, sleepers{0};
  EXPECT_FALSE(SpinThenWait(&word, &sleepers, 10, 20'000'000, [] { return false; }));
  EXPECT_EQ(sleepers.load(), 0u);
}

TEST(FutexTest, WakerSkipsTheSyscallWhenNobodySleeps) {
  std::atomic<uint32_t> word{7}, sleepers{0};
  WakeIfSleepers(&word, &sleepers, 1);
  EXPECT_EQ(word.load(), 7u) << "the futex word moves only when a sleeper must be woken";
}

}  // namespace
}  // namespace taskring::util
