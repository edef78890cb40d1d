// The dead-letter routes: the list (JSON or the page) and the actions, requeue and purge, of one
// letter or of all. Everything here reads or changes files under the queue's WAL directory
// through taskring::DeadLetters, so it runs on the queue's producer pool, never on an io thread.
// A requeue enqueues through the library: DeadLetters opens its own Producer for the action
// (one of the daemon's client entries, for as long as the action runs).
#include <charconv>
#include <memory>
#include <vector>

#include "http/dead_letter_list.h"
#include "http/gateway.h"
#include "http/job_lists.h"
#include "http/pages.h"
#include "http/responses.h"
#include "taskring/dead_letters.h"

namespace taskring::http {
namespace {

// A dead-letter id from the URL: a job id, decimal, not 0.
bool ParseDeadId(const std::string& text, uint64_t* id) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && *id != 0;
}

Response DeadStatusResponse(const Status& s) {
  const std::string msg(s.message());
  if (s.IsNotFound()) return ErrorResponse(bhttp::status::not_found, msg, "no_dead_letter");
  if (s.IsNotReady() || s.IsBusy()) {
    // NotReady: another process holds the store's lock; Busy: the queue is full.
    return s.IsBusy() ? BusyResponse("queue is full", "queue_full", 1000)
                      : ErrorResponse(bhttp::status::service_unavailable, msg, "dead_letters_busy");
  }
  return StatusResponse(s);
}

// After a browser's form post: back to the page it came from.
Response SeeOther(const std::string& location, const Json& body) {
  Response res = JsonResponse(bhttp::status::see_other, body);
  res.set(bhttp::field::location, location);
  return res;
}

}  // namespace

void Gateway::GetDead(const Route& route, bool html, Reply reply) {
  size_t limit = 0;
  std::string error;
  if (!ParseListLimit(route.query, &limit, &error)) {
    return reply(ErrorResponse(bhttp::status::bad_request, error, "invalid"));
  }
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  OnPool(
      q, route.queue,
      [q, limit, html, queue = route.queue, ctx = Context(), reply] {
        Json dead;
        const Status l = ListDeadLetters(queue, q.jobs.get(), limit, &dead);
        if (!l.ok()) return reply(StatusResponse(l.IsNotFound() ? Status::Closed(l.message()) : l));
        if (html) return reply(HtmlResponse(bhttp::status::ok, DeadPage(queue, dead, ctx)));
        reply(JsonResponse(bhttp::status::ok, dead));
      },
      reply);
}

void Gateway::DeadAction(const Route& route, bool browser, Reply reply) {
  uint64_t id = 0;
  const bool one = route.kind == RouteKind::kDeadRequeue || route.kind == RouteKind::kDeadPurge;
  if (one && !ParseDeadId(route.dead_id, &id)) {
    return reply(ErrorResponse(bhttp::status::not_found, "no dead letter '" + route.dead_id + "'",
                               "no_dead_letter"));
  }
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  const bool requeue =
      route.kind == RouteKind::kDeadRequeue || route.kind == RouteKind::kDeadRequeueAll;
  OnPool(
      q, route.queue,
      [q, id, one, requeue, browser, queue = route.queue, reply] {
        std::unique_ptr<DeadLetters> dead;
        DeadLettersOptions o;
        o.queue = queue;
        Status st = DeadLetters::Open(o, &dead);
        if (!st.ok())
          return reply(StatusResponse(st.IsNotFound() ? Status::Closed(st.message()) : st));
        Json j;
        if (one && requeue) {
          uint64_t new_id = 0;
          st = dead->Requeue(id, &new_id);
          if (new_id == 0 && !st.ok()) return reply(DeadStatusResponse(st));
          j["requeued"] = id;
          j["new_id"] = new_id;
          JobStatus job;
          if (q.jobs->GetStatus(new_id, &job).ok() && !job.token.empty()) {
            j["status_url"] = JobPath(queue, job.token);
          }
        } else if (one) {
          st = dead->Purge(id);
          if (!st.ok()) return reply(DeadStatusResponse(st));
          j["purged"] = 1;
        } else if (requeue) {
          std::vector<uint64_t> ids;
          if (dead->exists()) {
            st = dead->Lock();  // Busy: another process is changing the store
            if (!st.ok()) {
              return reply(ErrorResponse(bhttp::status::service_unavailable,
                                         std::string(st.message()), "dead_letters_busy"));
            }
            st = dead->List(&ids);
            if (!st.ok()) return reply(DeadStatusResponse(st));
          }
          uint64_t done = 0;
          for (uint64_t each : ids) {
            uint64_t new_id = 0;
            st = dead->Requeue(each, &new_id);
            if (new_id != 0) ++done;
            if (!st.ok() && !st.IsNotFound()) break;  // full queue, daemon gone: stop here
            st = Status::OK();
          }
          j["requeued"] = done;
          j["left"] = ids.size() - done;
          if (!st.ok()) j["error"] = std::string(st.message());
        } else {
          uint64_t purged = 0;
          if (dead->exists()) {
            st = dead->PurgeAll(&purged);
            if (!st.ok()) return reply(DeadStatusResponse(st));
          }
          j["purged"] = purged;
        }
        if (browser) return reply(SeeOther("/queues/" + queue + "/dead", j));
        reply(JsonResponse(bhttp::status::ok, j));
      },
      reply);
}

}  // namespace taskring::http
