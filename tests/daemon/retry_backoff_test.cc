#include "daemon/retry_backoff.h"

#include <gtest/gtest.h>

namespace taskring::daemon {
namespace {

constexpr uint64_t kMs = 1'000'000;

TEST(RetryBackoffTest, DoublesPerAttemptWithinEqualJitter) {
  std::mt19937_64 rng(42);
  for (uint32_t attempt = 1; attempt <= 5; ++attempt) {
    const uint64_t ceiling = (uint64_t{100} << (attempt - 1)) * kMs;
    for (int i = 0; i < 200; ++i) {
      const uint64_t d = RetryDelayNs(attempt, 100, 1'000'000, rng);
      EXPECT_GE(d, ceiling / 2) << "attempt " << attempt;
      EXPECT_LE(d, ceiling) << "attempt " << attempt;
    }
  }
}

TEST(RetryBackoffTest, IsCappedAndSpread) {
  std::mt19937_64 rng(7);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t d = RetryDelayNs(40, 1000, 5000, rng);  // 1000 << 39 would overflow a cap
    EXPECT_GE(d, 2500 * kMs);
    EXPECT_LE(d, 5000 * kMs);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GT(hi - lo, 1000 * kMs) << "jobs that failed together must not come back together";
}

TEST(RetryBackoffTest, ZeroBackoffRetriesAtOnce) {
  std::mt19937_64 rng(1);
  EXPECT_EQ(RetryDelayNs(3, 0, 0, rng), 0u);
}

}  // namespace
}  // namespace taskring::daemon
