// Building the gateway's answers: JSON bodies, and the mapping from a library Status to an
// HTTP status code and a machine-readable reason.
#ifndef TASKRING_HTTP_RESPONSES_H_
#define TASKRING_HTTP_RESPONSES_H_

#include <string>

#include "http/http_types.h"
#include "http/job_json.h"
#include "taskring/status.h"

namespace taskring::http {

Response JsonResponse(bhttp::status code, const Json& body);
// {"error": message, "reason": reason}; reason "" leaves it out.
Response ErrorResponse(bhttp::status code, const std::string& message,
                       const std::string& reason = "");
// A failed library call: NotFound 404 (reason no_queue), InvalidArgument 400, Busy and the daemon's
// troubles (gone, starting, refusing work, no free client entry) 503 with a reason, corruption 500.
Response StatusResponse(const Status& s);
// 503 with Retry-After: seconds, rounded up, at least 1.
Response BusyResponse(const std::string& message, const std::string& reason,
                      uint32_t retry_after_ms);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_RESPONSES_H_
