#include "taskring/retry.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "util/clock.h"

namespace taskring {

uint32_t BackoffMs(const RetryPolicy& policy, uint32_t hint_ms, uint32_t try_index,
                   double random01) {
  const uint64_t base = std::max(policy.initial_backoff_ms, hint_ms);
  const uint32_t shift = std::min<uint32_t>(try_index > 0 ? try_index - 1 : 0, 30);
  const uint64_t ceiling = std::min<uint64_t>(policy.max_backoff_ms, base << shift);
  // Full jitter: spreads retries of many producers that were refused at the same moment.
  return static_cast<uint32_t>(static_cast<double>(ceiling) * std::clamp(random01, 0.0, 1.0));
}

Status EnqueueWithRetry(Producer& producer, std::string_view payload, uint64_t* job_id,
                        const RetryPolicy& policy, const EnqueueOptions& options) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const uint64_t deadline = util::NowMonoNs() + policy.deadline_ms * 1'000'000ULL;
  for (uint32_t attempt = 1;; ++attempt) {
    Status s = producer.Enqueue(payload, job_id, options);
    if (!s.IsBusy() || attempt >= policy.max_tries) return s;
    const uint32_t wait = BackoffMs(policy, producer.RetryAfterMs(), attempt, uniform(rng));
    if (util::NowMonoNs() + wait * 1'000'000ULL > deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
}

}  // namespace taskring
