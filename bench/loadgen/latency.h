// Latency samples of one run, kept whole: percentiles are exact (sorted), not bucketed, so
// p99.99 means the 99.99th percentile of what was measured.
#ifndef TASKRING_LOADGEN_LATENCY_H_
#define TASKRING_LOADGEN_LATENCY_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

namespace taskring::loadgen {

struct Percentiles {
  uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;  // microseconds
};

// Sorts `samples_ns` in place and reads the percentiles (nearest rank).
Percentiles Summarize(std::vector<uint64_t>& samples_ns);

// {"count":N,"p50":..,"p90":..,"p99":..,"p999":..,"p9999":..,"max":..} (microseconds, to
// 3 decimals), keys in that order.
nlohmann::ordered_json PercentilesJson(const Percentiles& p);

}  // namespace taskring::loadgen

#endif  // TASKRING_LOADGEN_LATENCY_H_
