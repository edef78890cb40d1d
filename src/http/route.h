// The gateway's URL space: a request target ("/queues/q/jobs/TOKEN?wait=5") split into what it
// names, with its query decoded. Pure functions over untrusted text: every part is checked,
// nothing is trusted for its length or characters.
#ifndef TASKRING_HTTP_ROUTE_H_
#define TASKRING_HTTP_ROUTE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskring::http {

enum class RouteKind {
  kNotFound,   // no such path
  kJobs,       // /queues/{queue}/jobs
  kJob,        // /queues/{queue}/jobs/{token}
  kJobResult,  // /queues/{queue}/jobs/{token}/result
  kQueue,      // /queues/{queue}
  kHealth,     // /healthz
  kMetrics,    // /metrics
  // The web pages and what they read and do (docs/http.md, "The web page").
  kRoot,            // /  (the overview page)
  kQueues,          // /queues
  kRunning,         // /queues/{queue}/running
  kDelayed,         // /queues/{queue}/delayed
  kFailures,        // /queues/{queue}/failures
  kHistory,         // /queues/{queue}/history
  kDead,            // /queues/{queue}/dead
  kDeadRequeueAll,  // POST /queues/{queue}/dead/requeue
  kDeadPurgeAll,    // POST /queues/{queue}/dead/purge
  kDeadRequeue,     // POST /queues/{queue}/dead/{id}/requeue
  kDeadPurge,       // POST /queues/{queue}/dead/{id}/purge
  kJobCancel,       // POST /queues/{queue}/jobs/{token}/cancel
  kLogin,           // /login: a browser's form for the --token-file token (sets a cookie)
  kScript,          // /ui.js: the pages' script (their Content-Security-Policy allows no other)
};

// The routes that change something (each needs the CSRF token and is refused --read-only).
bool IsAction(RouteKind kind);

// Its label in the gateway's metrics ("enqueue" for kJobs, ...).
const char* RouteLabel(RouteKind kind);

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct Route {
  RouteKind kind = RouteKind::kNotFound;
  std::string queue;    // not validated here: the queue registry checks the name
  std::string token;    // raw path segment: JobToken::Parse decides
  std::string dead_id;  // raw path segment of the dead-letter routes: the handler parses it
  QueryParams query;
};

inline constexpr size_t kMaxQueryParams = 64;

// False (with *error) for a query that cannot be decoded (bad %-escape, too many parameters);
// an unknown path is kind kNotFound, not an error.
bool ParseTarget(std::string_view target, Route* out, std::string* error);

// An application/x-www-form-urlencoded string (a query, or a form body) into `out`; false for
// a bad %-escape or more than kMaxQueryParams pairs.
bool ParseUrlEncoded(std::string_view text, QueryParams* out, std::string* error);

// The first value of `name` in the query, or nullptr.
const std::string* FindParam(const QueryParams& q, std::string_view name);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_ROUTE_H_
