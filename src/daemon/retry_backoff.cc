#include "daemon/retry_backoff.h"

#include <algorithm>

namespace taskring::daemon {

uint64_t RetryDelayNs(uint32_t failed_attempt, uint32_t base_ms, uint32_t max_ms,
                      std::mt19937_64& rng) {
  constexpr uint64_t kMsNs = 1'000'000;
  const uint32_t shift = failed_attempt > 1 ? std::min<uint32_t>(failed_attempt - 1, 30) : 0;
  const uint64_t ceiling_ms = std::min<uint64_t>(max_ms, uint64_t{base_ms} << shift);
  // Equal jitter: at least half the ceiling, so retries back off for real, and spread over the
  // other half, so jobs that failed together do not come back together.
  const uint64_t half = ceiling_ms * kMsNs / 2;
  return half + (half != 0 ? rng() % (half + 1) : 0);
}

}  // namespace taskring::daemon
