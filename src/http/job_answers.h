// Answers about one job, shared by the routes that name one (status, long poll, result,
// cancel): how a status becomes a response, and the lookup by token that makes every wrong token
// the same 404.
#ifndef TASKRING_HTTP_JOB_ANSWERS_H_
#define TASKRING_HTTP_JOB_ANSWERS_H_

#include <string>

#include "http/http_types.h"
#include "http/queue_registry.h"
#include "taskring/job.h"

namespace taskring::http {

// 410 once expired, 303 to its result once completed (with the status JSON), else 200.
Response JobStateResponse(const std::string& queue, const JobStatus& st);
// 404, reason no_job.
Response NoSuchJob();
// False with *error set when there is no job to answer about: a malformed, forged or foreign
// token (404), or the queue's daemon failing the read.
bool FindJob(const QueueView& q, const std::string& token, JobStatus* st, Response* error);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_JOB_ANSWERS_H_
