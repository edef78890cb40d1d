// Latency histograms in shared memory: fixed log-spaced buckets from 1 us to 60 s (1-2.5-5
// per decade), the same bounds for every histogram, so a dashboard can compare them.
#ifndef TASKRING_METRICS_HISTOGRAM_H_
#define TASKRING_METRICS_HISTOGRAM_H_

#include <array>
#include <cstdint>

#include "segment/layout.h"

namespace taskring::metrics {

// Upper bounds in ns ("le"); a sample above the last lands in the +Inf bucket.
inline constexpr std::array<uint64_t, segment::kHistogramBuckets> kBucketBoundsNs = {
    1'000,         2'500,         5'000,         10'000,         25'000,         50'000,
    100'000,       250'000,       500'000,       1'000'000,      2'500'000,      5'000'000,
    10'000'000,    25'000'000,    50'000'000,    100'000'000,    250'000'000,    500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 25'000'000'000, 60'000'000'000,
};

// Index of the bucket holding `ns` (kHistogramBuckets for +Inf).
uint32_t BucketIndex(uint64_t ns);

// Records one sample. Single writer per histogram (the daemon's engine thread).
void Record(segment::HistogramCells* h, uint64_t ns);

// A copy taken for reading. Buckets are cumulative, as Prometheus wants them, and `count`
// equals the last one, so a reader never sees +Inf disagree with the count.
struct HistogramSnapshot {
  std::array<uint64_t, segment::kHistogramBuckets + 1> cumulative{};
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  // Estimated quantile (0..1) in ns, interpolated within its bucket; 0 when empty.
  double QuantileNs(double q) const;
};
HistogramSnapshot ReadHistogram(const segment::HistogramCells& h);

}  // namespace taskring::metrics

#endif  // TASKRING_METRICS_HISTOGRAM_H_
