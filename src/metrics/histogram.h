// Latency histograms in shared memory: recording and reading them. Which histograms exist and
// their bucket bounds are in the metrics catalog (segment/metrics_catalog.h).
#ifndef TASKRING_METRICS_HISTOGRAM_H_
#define TASKRING_METRICS_HISTOGRAM_H_

#include <array>
#include <cstdint>

#include "segment/metrics_catalog.h"

namespace taskring::metrics {

// Upper bounds in ns ("le"), defined with the histograms in the catalog.
using segment::kBucketBoundsNs;

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
