#include "metrics/histogram.h"

#include <algorithm>

namespace taskring::metrics {

uint32_t BucketIndex(uint64_t ns) {
  const auto it = std::lower_bound(kBucketBoundsNs.begin(), kBucketBoundsNs.end(), ns);
  return static_cast<uint32_t>(it - kBucketBoundsNs.begin());
}

void Record(segment::HistogramCells* h, uint64_t ns) {
  std::atomic<uint64_t>& b = h->bucket[BucketIndex(ns)];
  b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  h->sum_ns.store(h->sum_ns.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
}

HistogramSnapshot ReadHistogram(const segment::HistogramCells& h) {
  HistogramSnapshot s;
  uint64_t running = 0;
  for (uint32_t i = 0; i <= segment::kHistogramBuckets; ++i) {
    running += h.bucket[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum_ns = h.sum_ns.load(std::memory_order_relaxed);
  return s;
}

double HistogramSnapshot::QuantileNs(double q) const {
  if (count == 0) return 0;
  const double rank = q * static_cast<double>(count);
  for (uint32_t i = 0; i < segment::kHistogramBuckets; ++i) {
    if (static_cast<double>(cumulative[i]) >= rank) {
      const double lo = i == 0 ? 0.0 : static_cast<double>(kBucketBoundsNs[i - 1]);
      const double hi = static_cast<double>(kBucketBoundsNs[i]);
      const double below = i == 0 ? 0.0 : static_cast<double>(cumulative[i - 1]);
      const double in = static_cast<double>(cumulative[i]) - below;
      return in <= 0 ? hi : lo + (hi - lo) * (rank - below) / in;
    }
  }
  return static_cast<double>(kBucketBoundsNs.back());  // in +Inf: report the last bound
}

}  // namespace taskring::metrics
