#include "http/gateway.h"

#include <charconv>
#include <chrono>
#include <memory>

#include "http/enqueue_params.h"
#include "http/long_poll.h"
#include "http/responses.h"
#include "taskring/job.h"
#include "util/clock.h"

namespace taskring::http {
namespace {

constexpr uint64_t kNonEnqueueBodyLimit = 4096;  // other routes read (and ignore) a small body

std::string_view Header(const Request& req, bhttp::field f) {
  const auto it = req.find(f);
  return it == req.end() ? std::string_view()
                         : std::string_view(it->value().data(), it->value().size());
}

Response MethodNotAllowed(const char* allow) {
  Response res = ErrorResponse(bhttp::status::method_not_allowed,
                               std::string("method not allowed; use ") + allow);
  res.set(bhttp::field::allow, allow);
  return res;
}

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

Response EnqueueAnswer(const std::string& queue, const EnqueueResult& r, const JobClient& jobs,
                       uint32_t retry_after_ms) {
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
  JobStatus st;
  const char* state = jobs.GetStatus(r.job_id, &st).ok() ? JobStateName(st.state) : "queued";
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

Gateway::Gateway(const GatewayOptions& options, RequestGuard guard)
    : options_(options), guard_(std::move(guard)), registry_(options) {}

std::optional<Response> Gateway::Admit(const Request& req, Route* route, uint64_t* body_limit) {
  *body_limit = kNonEnqueueBodyLimit;
  const bool has_origin = req.find(bhttp::field::origin) != req.end();
  switch (guard_.Check(Header(req, bhttp::field::host), has_origin,
                       Header(req, bhttp::field::origin),
                       Header(req, bhttp::field::authorization))) {
    case RequestGuard::Verdict::kAllow: break;
    case RequestGuard::Verdict::kBadHost:
      return ErrorResponse(bhttp::status::forbidden,
                           "Host does not name this gateway (see --allow-host)", "bad_host");
    case RequestGuard::Verdict::kBadOrigin:
      return ErrorResponse(bhttp::status::forbidden, "cross-origin requests are refused",
                           "bad_origin");
    case RequestGuard::Verdict::kUnauthorized: {
      Response res = ErrorResponse(bhttp::status::unauthorized, "missing or wrong bearer token",
                                   "unauthorized");
      res.set(bhttp::field::www_authenticate, "Bearer");
      return res;
    }
  }
  std::string error;
  if (!ParseTarget(std::string_view(req.target().data(), req.target().size()), route, &error)) {
    return ErrorResponse(bhttp::status::bad_request, error, "bad_query");
  }
  const bhttp::verb m = req.method();
  switch (route->kind) {
    case RouteKind::kNotFound:
      return ErrorResponse(bhttp::status::not_found, "no such resource", "no_route");
    case RouteKind::kJobs: {
      if (m != bhttp::verb::post) return MethodNotAllowed("POST");
      // Refused before the body is read: the queue must exist and the body fit its slots.
      QueueView q;
      const Status s = registry_.Get(route->queue, &q);
      if (!s.ok()) return StatusResponse(s);
      *body_limit = std::min<uint64_t>(q.max_payload, options_.max_body_bytes);
      // Content-Length is checked by the parser against body_limit as soon as it is read;
      // this answers with the queue's own bound in the message.
      const auto length = req.payload_size();
      if (length && *length > *body_limit) {
        return ErrorResponse(bhttp::status::payload_too_large,
                             "body of " + std::to_string(*length) + " bytes exceeds the limit of " +
                                 std::to_string(*body_limit) + " bytes (the queue's max payload)",
                             "too_large");
      }
      return std::nullopt;
    }
    case RouteKind::kJob:
      if (m != bhttp::verb::get && m != bhttp::verb::delete_)
        return MethodNotAllowed("GET, DELETE");
      return std::nullopt;
    default:
      if (m != bhttp::verb::get) return MethodNotAllowed("GET");
      return std::nullopt;
  }
}

void Gateway::Handle(Request&& req, const Route& route, Reply reply,
                     const net::any_io_executor& ex) {
  switch (route.kind) {
    case RouteKind::kJobs: return Enqueue(std::move(req), route, std::move(reply));
    case RouteKind::kJob:
      if (req.method() == bhttp::verb::delete_) return Cancel(route, std::move(reply));
      return GetJob(route, std::move(reply), ex);
    case RouteKind::kJobResult: return GetResult(route, std::move(reply));
    case RouteKind::kQueue: return GetQueue(route, std::move(reply));
    case RouteKind::kHealth: return Health(std::move(reply));
    case RouteKind::kMetrics: {
      Response res{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
      res.body() = metrics_.Serialize();
      return reply(std::move(res));
    }
    case RouteKind::kNotFound: break;
  }
  reply(ErrorResponse(bhttp::status::not_found, "no such resource", "no_route"));
}

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
  auto payload = std::make_shared<std::string>(std::move(req.body()));
  const std::string queue = route.queue;
  std::shared_ptr<JobClient> jobs = q.jobs;
  const bool taken = q.entry->pool().Submit(
      [payload, options, queue, jobs, reply](Producer* p, const Status& open) {
        if (p == nullptr) {
          reply(StatusResponse(open));
          return true;
        }
        EnqueueResult r;
        (void)p->Enqueue(*payload, *options, &r);
        reply(EnqueueAnswer(queue, r, *jobs, r.status.IsBusy() ? p->RetryAfterMs() : 0));
        return !r.status.IsClosed();
      });
  if (!taken) {
    reply(BusyResponse("too many enqueues waiting for queue '" + queue + "' (--max-pending)",
                       "gateway_busy", 1000));
  }
}

void Gateway::GetJob(const Route& route, Reply reply, const net::any_io_executor& ex) {
  uint64_t wait_s = 0;
  if (const std::string* w = FindParam(route.query, "wait")) {
    const auto [end, ec] = std::from_chars(w->data(), w->data() + w->size(), wait_s);
    if (w->empty() || ec != std::errc() || end != w->data() + w->size() ||
        wait_s > options_.max_wait_s) {
      return reply(ErrorResponse(bhttp::status::bad_request,
                                 "wait must be whole seconds from 0 to " +
                                     std::to_string(options_.max_wait_s) + " (--max-wait)",
                                 "invalid"));
    }
  }
  for (const auto& [k, v] : route.query) {
    if (k != "wait") {
      return reply(ErrorResponse(bhttp::status::bad_request, "unknown query parameter '" + k + "'",
                                 "invalid"));
    }
  }
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  JobStatus st;
  Response error;
  if (!FindJob(q, route.token, &st, &error)) return reply(std::move(error));
  if (wait_s == 0 || IsTerminal(st.state)) return reply(JobStateResponse(route.queue, st));
  LongPoll::Start(ex, q.jobs, route.token, util::NowMonoNs() + wait_s * 1'000'000'000,
                  std::chrono::milliseconds(options_.wait_poll_ms),
                  [queue = route.queue, reply](const Status& s, const JobStatus& st) {
                    if (s.IsNotFound() || s.IsInvalidArgument()) return reply(NoSuchJob());
                    if (!s.ok()) return reply(StatusResponse(s));
                    reply(JobStateResponse(queue, st));
                  });
}

void Gateway::GetResult(const Route& route, Reply reply) {
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  JobStatus st;
  Response error;
  if (!FindJob(q, route.token, &st, &error)) return reply(std::move(error));
  if (st.state == JobState::kExpired) return reply(JobStateResponse(route.queue, st));
  if (st.state != JobState::kCompleted) {
    return reply(ErrorResponse(bhttp::status::not_found,
                               std::string("no result: the job is ") + JobStateName(st.state),
                               "no_result"));
  }
  std::string result;
  const Status r = q.jobs->GetResult(route.token, &result);
  if (!r.ok()) {
    return reply(ErrorResponse(
        r.IsNotFound() ? bhttp::status::not_found : bhttp::status::service_unavailable,
        std::string(r.message()), "no_result"));
  }
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/octet-stream");
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = std::move(result);
  reply(std::move(res));
}

void Gateway::Cancel(const Route& route, Reply reply) {
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  JobStatus st;
  Response error;
  if (!FindJob(q, route.token, &st, &error)) return reply(std::move(error));
  if (st.state == JobState::kExpired) return reply(JobStateResponse(route.queue, st));
  // Cancel waits for the daemon (and its fsync): a pool thread's work, not the io thread's.
  const std::string token = route.token;
  std::shared_ptr<JobClient> jobs = q.jobs;
  const bool taken = q.entry->pool().Submit([jobs, token, reply](Producer*, const Status&) {
    CancelOutcome outcome{};
    const Status c = jobs->Cancel(token, &outcome);
    if (!c.ok()) {
      reply(c.IsNotFound() ? NoSuchJob() : StatusResponse(c));
      return true;
    }
    Json j;
    j["outcome"] = CancelOutcomeName(outcome);
    switch (outcome) {
      case CancelOutcome::kCancelled: reply(JsonResponse(bhttp::status::ok, j)); break;
      case CancelOutcome::kRequested: reply(JsonResponse(bhttp::status::accepted, j)); break;
      case CancelOutcome::kAlreadyFinished: {
        JobStatus now;
        if (jobs->GetStatus(token, &now).ok()) j["state"] = JobStateName(now.state);
        reply(JsonResponse(bhttp::status::conflict, j));
        break;
      }
    }
    return true;
  });
  if (!taken) {
    reply(BusyResponse("too many requests waiting for queue '" + route.queue + "'", "gateway_busy",
                       1000));
  }
}

void Gateway::GetQueue(const Route& route, Reply reply) {
  if (!route.query.empty()) {
    return reply(ErrorResponse(bhttp::status::bad_request, "no query parameters here", "invalid"));
  }
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  reply(JsonResponse(bhttp::status::ok, q.entry->Stats()));
}

void Gateway::Health(Reply reply) {
  Json queues = Json::object();
  bool healthy = true;
  for (const std::string& name : registry_.Served()) {
    QueueView q;
    const Status s = registry_.Get(name, &q);
    std::string why = s.ok() ? q.entry->Unhealthy() : std::string(s.message());
    healthy = healthy && why.empty();
    queues[name] = why.empty() ? Json("ok") : Json(why);
  }
  Json j;
  j["status"] = healthy ? "ok" : "unhealthy";
  j["queues"] = queues;
  reply(JsonResponse(healthy ? bhttp::status::ok : bhttp::status::service_unavailable, j));
}

}  // namespace taskring::http
