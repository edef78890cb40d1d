// The JSON bodies the gateway answers with: a job's status, an enqueue's answer, an error.
// Strings from jobs (errors, progress messages, headers) are arbitrary bytes: Dump() replaces
// invalid UTF-8 with U+FFFD rather than failing.
#ifndef TASKRING_HTTP_JOB_JSON_H_
#define TASKRING_HTTP_JOB_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "taskring/job.h"

namespace taskring::http {

using Json = nlohmann::ordered_json;

// "/queues/{queue}/jobs/{token}" and ".../result".
std::string JobPath(const std::string& queue, const std::string& token);
std::string ResultPath(const std::string& queue, const std::string& token);

// state, attempt, max_attempts, progress {percent, message} or null, timestamps (RFC 3339 and
// Unix ns), error, priority, type, headers, result_bytes, cancel_requested, status_url.
Json JobStatusJson(const std::string& queue, const JobStatus& st);

// {"error": message} plus any `extra` fields.
Json ErrorJson(const std::string& message, Json extra = Json::object());

// One line of JSON, invalid UTF-8 replaced.
std::string Dump(const Json& j);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_JOB_JSON_H_
