// The lists the queue page shows: jobs running now, delayed jobs, recent failures. Each is one
// scan of the queue's job slots (the states metrics::TakeSnapshot counts), then a JobClient
// status read of the rows kept, so a row says what GET /queues/{q}/jobs/{token} would.
//
// Cost: the scan reads every slot header, O(capacity): measured about 1 ms on an idle 64k-slot
// queue with warm caches (2-core VM), more with cold headers or busy slots. Over the ~1 ms an io
// thread may spend, so the gateway runs these on the queue's producer pool, never on an io
// thread (gateway_lists.cc), and the scan holds no lock the io threads take. Rows are bounded by
// `limit`; every value read from the segment is checked (states, owner index, times) before use,
// and a slot that changed under the scan is dropped or shown as its status read says.
#ifndef TASKRING_HTTP_JOB_LISTS_H_
#define TASKRING_HTTP_JOB_LISTS_H_

#include <cstddef>
#include <string>

#include "http/job_json.h"
#include "http/route.h"
#include "taskring/job_client.h"

namespace taskring::http {

class QueueEntry;

inline constexpr size_t kDefaultListLimit = 200;
inline constexpr size_t kMaxListLimit = 1000;

// ?limit=N (1..kMaxListLimit, default kDefaultListLimit); false with *error for a bad value or
// any other parameter.
bool ParseListLimit(const QueryParams& query, size_t* limit, std::string* error);

// [{id, token, type, attempt, max_attempts, worker_pid, progress {percent, message} | null,
//   running_for_ms, status_url}], longest running first.
Json RunningJobs(QueueEntry& entry, const JobClient& jobs, const std::string& queue, size_t limit);
// [{id, token, type, attempt, due_unix_ms, due_in_ms, status_url}], soonest first.
Json DelayedJobs(QueueEntry& entry, const JobClient& jobs, const std::string& queue, size_t limit);
// Jobs waiting to retry, newest failure first: [{kind: "retrying", id, token, type, attempt,
// max_attempts, error, when_unix_ms, status_url}]. The caller appends dead letters.
Json RetryingJobs(QueueEntry& entry, const JobClient& jobs, const std::string& queue, size_t limit);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_JOB_LISTS_H_
