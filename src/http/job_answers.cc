#include "http/job_answers.h"

#include "http/job_json.h"
#include "http/responses.h"

namespace taskring::http {

// A job's status as its GET answers it: 410 once expired, 303 to its result once completed.
Response JobStateResponse(const std::string& queue, const JobStatus& st) {
  if (st.state == JobState::kExpired) {
    return ErrorResponse(bhttp::status::gone,
                         "job " + std::to_string(st.id) +
                             " finished longer ago than its daemon keeps outcomes (--result-ttl)",
                         "expired");
  }
  Json j = JobStatusJson(queue, st);
  if (st.state == JobState::kCompleted && !st.token.empty()) {
    Response res = JsonResponse(bhttp::status::see_other, j);
    res.set(bhttp::field::location, ResultPath(queue, st.token));
    return res;
  }
  return JsonResponse(bhttp::status::ok, j);
}

Response NoSuchJob() { return ErrorResponse(bhttp::status::not_found, "no such job", "no_job"); }

// Looks a job up by its token: a token that is malformed, forged or another queue's is 404.
bool FindJob(const QueueView& q, const std::string& token, JobStatus* st, Response* error) {
  JobToken parsed;
  if (!JobToken::Parse(token, &parsed)) {
    *error = NoSuchJob();
    return false;
  }
  const Status s = q.jobs->GetStatus(token, st);
  if (s.IsNotFound() || s.IsInvalidArgument()) {
    *error = NoSuchJob();
    return false;
  }
  if (!s.ok()) {
    *error = StatusResponse(s);
    return false;
  }
  return true;
}

}  // namespace taskring::http
