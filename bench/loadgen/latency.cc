#include "loadgen/latency.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace taskring::loadgen {

Percentiles Summarize(std::vector<uint64_t>& samples_ns) {
  Percentiles p;
  p.count = samples_ns.size();
  if (samples_ns.empty()) return p;
  std::sort(samples_ns.begin(), samples_ns.end());
  auto at = [&](double q) {
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples_ns.size())));
    return static_cast<double>(samples_ns[std::clamp<size_t>(rank, 1, samples_ns.size()) - 1]) /
           1e3;
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.p9999 = at(0.9999);
  p.max = static_cast<double>(samples_ns.back()) / 1e3;
  return p;
}

nlohmann::ordered_json PercentilesJson(const Percentiles& p) {
  // Microseconds to 3 decimals (nanoseconds): the precision of the samples.
  const auto us = [](double v) { return std::round(v * 1e3) / 1e3; };
  nlohmann::ordered_json j;
  j["count"] = p.count;
  j["p50"] = us(p.p50);
  j["p90"] = us(p.p90);
  j["p99"] = us(p.p99);
  j["p999"] = us(p.p999);
  j["p9999"] = us(p.p9999);
  j["max"] = us(p.max);
  return j;
}

}  // namespace taskring::loadgen
