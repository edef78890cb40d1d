// A queue's dead letters as the gateway shows them, read through taskring::DeadLetters (files
// under the queue's WAL directory: blocking I/O, so callers run it on the queue's producer
// pool, never on an io thread).
#ifndef TASKRING_HTTP_DEAD_LETTER_LIST_H_
#define TASKRING_HTTP_DEAD_LETTER_LIST_H_

#include <cstddef>
#include <string>

#include "http/job_json.h"
#include "taskring/job_client.h"
#include "taskring/status.h"

namespace taskring::http {

inline constexpr size_t kPayloadPreviewBytes = 256;

// {"total": N, "letters": [{id, type, attempts, max_attempts, reason, error, payload_preview,
// binary, payload_bytes, enqueued_unix_ms, dead_unix_ms, token, status_url}]}, newest first, at
// most `limit`. The error is the job's last one while the daemon keeps its outcome (else the
// letter's reason). A damaged letter is listed with its id and "error": what is wrong with it.
// A queue where no job ever died lists nothing; Status NotFound when its daemon is not running
// (its WAL directory is unknown).
Status ListDeadLetters(const std::string& queue, const JobClient* jobs, size_t limit, Json* out);

// The newest `limit` letters as rows of the failures list ({kind: "dead", id, token, type,
// attempt, max_attempts, error, when_unix_ms, status_url}); an empty list if they cannot be read.
Json DeadFailureRows(const std::string& queue, const JobClient* jobs, size_t limit);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_DEAD_LETTER_LIST_H_
