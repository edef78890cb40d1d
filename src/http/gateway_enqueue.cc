// POST /queues/{queue}/jobs: the job's options from the query and headers, then Enqueue on one
// of the queue's producer threads; the answer once the daemon accepted (or refused) it.
#include <memory>

#include "http/enqueue_params.h"
#include "http/gateway.h"
#include "http/job_json.h"
#include "http/responses.h"
#include "util/clock.h"

namespace taskring::http {
namespace {

// The state a new job starts in, known without a status read: it waits for its run time, or
// is queued (a worker may already have taken it; the status URL tells).
const char* NewJobState(const EnqueueOptions& options, uint64_t now_unix_ns) {
  return options.delay_ms != 0 || options.run_at_unix_ns > now_unix_ns ? "delayed" : "queued";
}

Response EnqueueAnswer(const std::string& queue, const EnqueueOptions& options,
                       const EnqueueResult& r, const JobClient& jobs, uint32_t retry_after_ms) {
  const Status& s = r.status;
  if (s.IsBusy()) {
    return BusyResponse("queue '" + queue + "' is full", "queue_full", retry_after_ms);
  }
  if (s.IsInvalidArgument()) {
    const bool too_large =
        std::string_view(s.message()).find("exceeds the queue's max payload") != std::string::npos;
    return ErrorResponse(too_large ? bhttp::status::payload_too_large : bhttp::status::bad_request,
                         std::string(s.message()), too_large ? "too_large" : "invalid");
  }
  if (!s.ok()) return StatusResponse(s);
  if (!r.token.valid()) {
    // A duplicate whose first job's status is no longer kept: there is nothing to point at.
    return JsonResponse(bhttp::status::conflict,
                        ErrorJson("Idempotency-Key was used by job " + std::to_string(r.job_id) +
                                      ", whose status is no longer kept",
                                  {{"reason", "key_reused"}, {"id", r.job_id}}));
  }
  const std::string token = r.token.ToString();
  const char* state = NewJobState(options, util::NowUnixNs());
  if (r.duplicate) {
    // The first job's state now: it may have run long ago.
    JobStatus st;
    state = jobs.GetStatus(r.job_id, &st).ok() ? JobStateName(st.state) : "unknown";
  }
  Json j;
  j["id"] = r.job_id;
  j["token"] = token;
  j["state"] = state;
  j["status_url"] = JobPath(queue, token);
  j["duplicate"] = r.duplicate;
  Response res = JsonResponse(bhttp::status::accepted, j);
  res.set(bhttp::field::location, JobPath(queue, token));
  return res;
}

}  // namespace

void Gateway::Enqueue(Request&& req, const Route& route, Reply reply) {
  QueueView q;
  Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  HeaderList headers;
  for (const auto& f : req) {
    headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  auto options = std::make_shared<EnqueueOptions>();
  std::string error;
  if (!ParseEnqueueParams(route.query, headers, options.get(), &error)) {
    return reply(ErrorResponse(bhttp::status::bad_request, error, "invalid"));
  }
  const std::string queue = route.queue;
  std::shared_ptr<JobClient> jobs = q.jobs;
  EnqueueWork work;
  work.payload = std::move(req.body());
  work.options = options;
  work.done = [options, queue, jobs, reply](const EnqueueResult& r, uint32_t retry_after_ms) {
    reply(EnqueueAnswer(queue, *options, r, *jobs, retry_after_ms));
  };
  const bool taken = q.entry->pool().Submit(std::move(work));
  if (!taken) {
    reply(BusyResponse("too many enqueues waiting for queue '" + queue + "' (--max-pending)",
                       "gateway_busy", 1000));
  }
}

}  // namespace taskring::http
