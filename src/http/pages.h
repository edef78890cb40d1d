// The web pages of `taskring http` (docs/http.md, "The web page"), rendered from the JSON the
// routes answer. Pure functions: data in, HTML out, every string escaped. The element ids and
// data-* attributes are stable hooks for browser tests (listed in docs/http.md): keep them.
#ifndef TASKRING_HTTP_PAGES_H_
#define TASKRING_HTTP_PAGES_H_

#include <string>

#include "http/html_page.h"
#include "http/job_json.h"

namespace taskring::http {

// `/`: `queues` is the GET /queues array; `histories` maps a queue name to its /history JSON.
std::string OverviewPage(const Json& queues, const Json& histories, const PageContext& ctx);

// `/queues/{q}`: its /queues item, /history, /running, /delayed, /failures.
std::string QueuePage(const std::string& queue, const Json& stats, const Json& history,
                      const Json& running, const Json& delayed, const Json& failures,
                      const PageContext& ctx);

// `/queues/{q}/jobs/{token}`: the job's status JSON (JobStatusJson).
std::string JobPage(const std::string& queue, const Json& job, const PageContext& ctx);

// `/queues/{q}/dead`: the GET /queues/{q}/dead JSON.
std::string DeadPage(const std::string& queue, const Json& dead, const PageContext& ctx);

// `/login`: a form posting the --token-file token; `error` (plain text) says why it is shown
// again.
std::string LoginPage(const PageContext& ctx, const std::string& error);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_PAGES_H_
