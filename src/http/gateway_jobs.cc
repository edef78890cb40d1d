// The routes of one job: GET (status, ?wait long poll), GET .../result, DELETE (cancel).
#include <charconv>
#include <chrono>
#include <memory>

#include "http/gateway.h"
#include "http/job_answers.h"
#include "http/job_json.h"
#include "http/long_poll.h"
#include "http/pages.h"
#include "http/responses.h"
#include "util/clock.h"

namespace taskring::http {

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

bool Gateway::FindRoutedJob(const Route& route, QueueView* q, JobStatus* st, Response* answer) {
  const Status s = registry_.Get(route.queue, q);
  if (!s.ok()) {
    *answer = StatusResponse(s);
    return false;
  }
  if (!FindJob(*q, route.token, st, answer)) return false;
  if (st->state == JobState::kExpired) {
    *answer = JobStateResponse(route.queue, *st);
    return false;
  }
  return true;
}

void Gateway::GetResult(const Route& route, Reply reply) {
  QueueView q;
  JobStatus st;
  Response answer;
  if (!FindRoutedJob(route, &q, &st, &answer)) return reply(std::move(answer));
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

void Gateway::GetJobPage(const Route& route, Reply reply) {
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  JobStatus st;
  Response error;
  if (!FindJob(q, route.token, &st, &error)) return reply(std::move(error));
  // A page even once completed (a browser shows the result link rather than following a 303).
  reply(HtmlResponse(bhttp::status::ok,
                     JobPage(route.queue, JobStatusJson(route.queue, st), Context())));
}

void Gateway::Cancel(const Route& route, Reply reply, bool redirect_to_page) {
  QueueView q;
  JobStatus st;
  Response answer;
  if (!FindRoutedJob(route, &q, &st, &answer)) return reply(std::move(answer));
  // Cancel waits for the daemon (and its fsync): a pool thread's work, not the io thread's.
  const std::string token = route.token;
  std::shared_ptr<JobClient> jobs = q.jobs;
  const std::string page = JobPath(route.queue, token);
  const bool taken = q.entry->pool().Submit(
      [jobs, token, reply, page, redirect_to_page](Producer*, const Status&) {
        CancelOutcome outcome{};
        const Status c = jobs->Cancel(token, &outcome);
        if (!c.ok()) {
          reply(c.IsNotFound() ? NoSuchJob() : StatusResponse(c));
          return true;
        }
        Json j;
        j["outcome"] = CancelOutcomeName(outcome);
        if (redirect_to_page) {
          Response res = JsonResponse(bhttp::status::see_other, j);
          res.set(bhttp::field::location, page);
          reply(std::move(res));
          return true;
        }
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

}  // namespace taskring::http
