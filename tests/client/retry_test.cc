#include "taskring/retry.h"

#include <gtest/gtest.h>

namespace taskring {
namespace {

TEST(RetryTest, BackoffGrowsExponentiallyUpToTheCap) {
  RetryPolicy p;
  p.initial_backoff_ms = 10;
  p.max_backoff_ms = 1000;
  // random01 close to 1 shows the ceiling of each step.
  EXPECT_EQ(BackoffMs(p, 0, 1, 0.9999999), 9u);
  EXPECT_EQ(BackoffMs(p, 0, 2, 0.9999999), 19u);
  EXPECT_EQ(BackoffMs(p, 0, 4, 0.9999999), 79u);
  EXPECT_EQ(BackoffMs(p, 0, 30, 0.9999999), 999u);
  EXPECT_EQ(BackoffMs(p, 0, 200, 0.9999999), 999u) << "no overflow for huge try counts";
}

TEST(RetryTest, JitterSpansZeroToTheCeiling) {
  RetryPolicy p;
  p.initial_backoff_ms = 100;
  EXPECT_EQ(BackoffMs(p, 0, 1, 0.0), 0u);
  EXPECT_EQ(BackoffMs(p, 0, 1, 0.5), 50u);
}

TEST(RetryTest, QueueHintRaisesTheBase) {
  RetryPolicy p;
  p.initial_backoff_ms = 1;
  p.max_backoff_ms = 5000;
  EXPECT_EQ(BackoffMs(p, 400, 1, 0.5), 200u);
  EXPECT_EQ(BackoffMs(p, 400, 2, 0.5), 400u);
}

}  // namespace
}  // namespace taskring

#include "admission/admission.h"

namespace taskring::admission {
namespace {

TEST(RetryAfterTest, FollowsLittlesLawWithinBounds) {
  EXPECT_EQ(RetryAfterMs(500, 1000 * 1000), 500u) << "500 waiting at 1000/s: half a second";
  EXPECT_EQ(RetryAfterMs(10, 1000 * 1000), 10u);
  EXPECT_EQ(RetryAfterMs(0, 1000 * 1000), 1u) << "at least 1 ms";
  EXPECT_EQ(RetryAfterMs(1'000'000, 1000), 10'000u) << "at most 10 s";
  EXPECT_EQ(RetryAfterMs(5, 0), 100u) << "unknown rate";
}

}  // namespace
}  // namespace taskring::admission
