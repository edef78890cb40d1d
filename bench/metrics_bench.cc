// Recording one latency sample, as the daemon's engine thread does per job.
//
//   BM_Histogram_TaskringRecord         metrics::Record into HistogramCells (the shared-memory
//                                       histogram): binary search over 24 bounds, then two
//                                       relaxed load+store pairs (single writer, no locked RMW).
//   BM_Histogram_PrometheusCppObserve   prometheus::Histogram::Observe with the same bounds (in
//                                       seconds): the baseline, an in-process thread-safe
//                                       histogram.
// Samples cycle through 1 us .. 10 s so every bucket is hit.
#include <benchmark/benchmark.h>
#include <prometheus/histogram.h>

#include <array>
#include <memory>

#include "bench_common.h"
#include "metrics/histogram.h"

namespace taskring::bench {
namespace {

constexpr std::array<uint64_t, 8> kSamplesNs = {
    700, 3'000, 40'000, 800'000, 2'000'000, 30'000'000, 700'000'000, 9'000'000'000,
};

void BM_Histogram_TaskringRecord(benchmark::State& state) {
  auto cells = std::make_unique<segment::HistogramCells>();
  for (auto& b : cells->bucket) b.store(0);
  cells->sum_ns.store(0);
  size_t i = 0;
  for (auto _ : state) {
    metrics::Record(cells.get(), kSamplesNs[i++ & (kSamplesNs.size() - 1)]);
  }
  benchmark::DoNotOptimize(cells->sum_ns.load());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_TaskringRecord)->Apply([](benchmark::internal::Benchmark* b) { Short(b); });

void BM_Histogram_PrometheusCppObserve(benchmark::State& state) {
  prometheus::Histogram::BucketBoundaries bounds;
  for (uint64_t ns : metrics::kBucketBoundsNs) bounds.push_back(static_cast<double>(ns) * 1e-9);
  prometheus::Histogram h(bounds);
  std::array<double, kSamplesNs.size()> samples{};
  for (size_t k = 0; k < kSamplesNs.size(); ++k) {
    samples[k] = static_cast<double>(kSamplesNs[k]) * 1e-9;
  }
  size_t i = 0;
  for (auto _ : state) {
    h.Observe(samples[i++ & (samples.size() - 1)]);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_PrometheusCppObserve)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b);
});

}  // namespace
}  // namespace taskring::bench
