#include "loadgen/latency.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

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

std::string PercentilesJson(const Percentiles& p) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"count\":%llu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
                "\"p9999\":%.3f,\"max\":%.3f}",
                static_cast<unsigned long long>(p.count), p.p50, p.p90, p.p99, p.p999, p.p9999,
                p.max);
  return buf;
}

}  // namespace taskring::loadgen
