// How a POST names a job's options: each one by a query parameter or by a request header (the
// names are in docs/http.md). Values are checked here for form (numbers, RFC 3339); their
// ranges are checked once more by Producer::Enqueue, whose InvalidArgument becomes a 400 too.
#ifndef TASKRING_HTTP_ENQUEUE_PARAMS_H_
#define TASKRING_HTTP_ENQUEUE_PARAMS_H_

#include <string>
#include <utility>
#include <vector>

#include "http/route.h"
#include "taskring/options.h"

namespace taskring::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;  // name, value

// query: the decoded query; headers: the request's headers as sent. False with *error (a
// sentence for the 400 answer) for a malformed value, an unknown query parameter, or an option
// given twice (in the query and as a header).
bool ParseEnqueueParams(const QueryParams& query, const HeaderList& headers, EnqueueOptions* out,
                        std::string* error);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_ENQUEUE_PARAMS_H_
