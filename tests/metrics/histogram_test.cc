// Shared-memory histograms: bucket edges, cumulative reads and quantile estimates.
#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <memory>

namespace taskring::metrics {
namespace {

TEST(HistogramTest, BoundsAreIncreasingFromOneMicrosecondToSixtySeconds) {
  EXPECT_EQ(kBucketBoundsNs.front(), 1'000u);
  EXPECT_EQ(kBucketBoundsNs.back(), 60'000'000'000u);
  for (size_t i = 1; i < kBucketBoundsNs.size(); ++i) {
    EXPECT_GT(kBucketBoundsNs[i], kBucketBoundsNs[i - 1]);
    EXPECT_LE(kBucketBoundsNs[i], kBucketBoundsNs[i - 1] * 5 / 2) << "log-spaced, no big gaps";
  }
}

TEST(HistogramTest, SampleLandsInTheFirstBucketWhoseBoundHoldsIt) {
  EXPECT_EQ(BucketIndex(0), 0u);
  EXPECT_EQ(BucketIndex(1'000), 0u) << "le is inclusive";
  EXPECT_EQ(BucketIndex(1'001), 1u);
  EXPECT_EQ(BucketIndex(60'000'000'000), segment::kHistogramBuckets - 1);
  EXPECT_EQ(BucketIndex(60'000'000'001), segment::kHistogramBuckets) << "+Inf";
  EXPECT_EQ(BucketIndex(UINT64_MAX), segment::kHistogramBuckets);
}

TEST(HistogramTest, ReadIsCumulativeAndCountMatchesInf) {
  auto cells = std::make_unique<segment::HistogramCells>();
  for (auto& b : cells->bucket) b.store(0);
  cells->sum_ns.store(0);
  for (int i = 0; i < 90; ++i) Record(cells.get(), 700);       // <= 1 us
  for (int i = 0; i < 9; ++i) Record(cells.get(), 3'000'000);  // <= 5 ms
  Record(cells.get(), 100'000'000'000);                        // +Inf
  const HistogramSnapshot s = ReadHistogram(*cells);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.cumulative[0], 90u);
  EXPECT_EQ(s.cumulative[BucketIndex(5'000'000)], 99u);
  EXPECT_EQ(s.cumulative[segment::kHistogramBuckets], 100u);
  EXPECT_EQ(s.sum_ns, 90u * 700 + 9u * 3'000'000 + 100'000'000'000);
  EXPECT_LE(s.QuantileNs(0.5), 1'000);
  EXPECT_GT(s.QuantileNs(0.95), 2'500'000);
  EXPECT_LE(s.QuantileNs(0.95), 5'000'000);
  EXPECT_EQ(s.QuantileNs(0.999), 60e9) << "+Inf reports the last bound";
  EXPECT_EQ(HistogramSnapshot().QuantileNs(0.5), 0);
}

}  // namespace
}  // namespace taskring::metrics
