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
