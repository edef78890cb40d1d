// Client-side retry for Busy: exponential backoff with full jitter, seeded by the queue's
// retry-after hint. Only Busy is retried; every other status is returned at once.
#ifndef TASKRING_RETRY_H_
#define TASKRING_RETRY_H_

#include <cstdint>
#include <string_view>

#include "taskring/export.h"
#include "taskring/producer.h"

namespace taskring {

struct RetryPolicy {
  uint32_t max_tries = 8;           // enqueue attempts in all, including the first
  uint32_t initial_backoff_ms = 1;  // first wait, unless the queue's hint is larger
  uint32_t max_backoff_ms = 2000;   // cap of one wait
  uint64_t deadline_ms = 10000;     // give up (Busy) once this much time has passed
};

// The wait before try number `try_index` (1 = after the first Busy): a uniformly random value in
// [0, min(cap, max(initial, hint) * 2^(try_index-1))]. `random01` is in [0, 1).
TASKRING_EXPORT uint32_t BackoffMs(const RetryPolicy& policy, uint32_t hint_ms, uint32_t try_index,
                                   double random01);

// Enqueue, sleeping and retrying while the queue answers Busy.
[[nodiscard]] TASKRING_EXPORT Status EnqueueWithRetry(Producer& producer, std::string_view payload,
                                                      uint64_t* job_id,
                                                      const RetryPolicy& policy = {},
                                                      const EnqueueOptions& options = {});

}  // namespace taskring

#endif  // TASKRING_RETRY_H_
