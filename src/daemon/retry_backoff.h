// How long a failed job waits before its next attempt.
#ifndef TASKRING_DAEMON_RETRY_BACKOFF_H_
#define TASKRING_DAEMON_RETRY_BACKOFF_H_

#include <cstdint>
#include <random>

namespace taskring::daemon {

// The delay after `failed_attempt` failed: exponential from `base_ms`, capped at `max_ms`, with
// equal jitter drawn from `rng`.
uint64_t RetryDelayNs(uint32_t failed_attempt, uint32_t base_ms, uint32_t max_ms,
                      std::mt19937_64& rng);

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_RETRY_BACKOFF_H_
