// The routes the web pages read: every queue's numbers (/queues and the overview page), a
// queue's page, its running / delayed / failed jobs, and its history.
#include <charconv>
#include <memory>

#include "http/dead_letter_list.h"
#include "http/gateway.h"
#include "http/job_lists.h"
#include "http/pages.h"
#include "http/responses.h"
#include "segment/metrics_catalog.h"

namespace taskring::http {
namespace {

Json Quantiles(const metrics::HistogramSnapshot& h) {
  // The same estimate `taskring stat` prints (HistogramSnapshot::QuantileNs); null when empty.
  if (h.count == 0) return {{"count", 0}, {"p50", nullptr}, {"p99", nullptr}};
  return {{"count", h.count}, {"p50", h.QuantileNs(0.5) / 1e6}, {"p99", h.QuantileNs(0.99) / 1e6}};
}

Response BadQuery(const std::string& error) {
  return ErrorResponse(bhttp::status::bad_request, error, "invalid");
}

}  // namespace

void Gateway::OnPool(const QueueView& q, const std::string& queue, std::function<void()> work,
                     const Reply& reply) {
  const bool taken = q.entry->pool().Submit([work = std::move(work)](Producer*, const Status&) {
    work();
    return true;  // never reports the daemon gone: these tasks use no Producer
  });
  if (!taken) {
    reply(
        BusyResponse("too many requests waiting for queue '" + queue + "'", "gateway_busy", 1000));
  }
}

Json Gateway::QueueSummary(const std::string& name) {
  QueueView q;
  const Status s = registry_.Get(name, &q);
  if (!s.ok()) return {{"queue", name}, {"state", "down"}, {"error", std::string(s.message())}};
  metrics::QueueSnapshot snap;
  Json j = q.entry->Stats(&snap);
  if (j.contains("error")) {
    j["queue"] = name;
    j["state"] = "down";
    return j;
  }
  j["state"] = QueueState(j);
  Json counters;
  for (uint32_t c = 0; c < segment::kCounterCount; ++c) {
    const auto counter = static_cast<segment::Counter>(c);
    counters[segment::CounterName(counter)] = snap.counter(counter);
  }
  j["counters"] = std::move(counters);
  j["latency_ms"] = {{"wait", Quantiles(snap.histogram(segment::Histogram::kJobWait))},
                     {"run", Quantiles(snap.histogram(segment::Histogram::kJobRun))},
                     {"e2e", Quantiles(snap.histogram(segment::Histogram::kJobLatency))}};
  return j;
}

void Gateway::GetQueues(const Route& route, bool html, Reply reply) {
  if (!route.query.empty()) return reply(BadQuery("no query parameters here"));
  // One snapshot per served queue, on this io thread, as GET /queues/{q} does: O(capacity) each.
  Json all = Json::array();
  Json histories = Json::object();
  for (const std::string& name : registry_.Served()) {
    all.push_back(QueueSummary(name));
    QueueView q;
    if (html && registry_.Get(name, &q).ok()) histories[name] = q.entry->history().ToJson(60);
  }
  if (html) return reply(HtmlResponse(bhttp::status::ok, OverviewPage(all, histories, Context())));
  reply(JsonResponse(bhttp::status::ok, all));
}

void Gateway::GetHistory(const Route& route, Reply reply) {
  size_t limit = History::kCapacity;
  for (const auto& [k, v] : route.query) {
    if (k != "limit") return reply(BadQuery("unknown query parameter '" + k + "'"));
    size_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n == 0 ||
        n > History::kCapacity) {
      return reply(
          BadQuery("limit must be a whole number from 1 to " + std::to_string(History::kCapacity)));
    }
    limit = n;
  }
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  Json j = q.entry->history().ToJson(limit);
  j["queue"] = route.queue;
  reply(JsonResponse(bhttp::status::ok, j));
}

void Gateway::GetList(const Route& route, Reply reply) {
  size_t limit = 0;
  std::string error;
  if (!ParseListLimit(route.query, &limit, &error)) return reply(BadQuery(error));
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  // A slot scan, O(capacity): on the pool (job_lists.h).
  const RouteKind kind = route.kind;
  OnPool(
      q, route.queue,
      [q, kind, limit, queue = route.queue, reply] {
        Json rows;
        if (kind == RouteKind::kRunning) {
          rows = RunningJobs(*q.entry, *q.jobs, queue, limit);
        } else if (kind == RouteKind::kDelayed) {
          rows = DelayedJobs(*q.entry, *q.jobs, queue, limit);
        } else {
          rows = RetryingJobs(*q.entry, *q.jobs, queue, limit);
          for (Json& d : DeadFailureRows(queue, q.jobs.get(), limit)) {
            if (rows.size() >= limit) break;
            rows.push_back(std::move(d));
          }
        }
        reply(JsonResponse(bhttp::status::ok, rows));
      },
      reply);
}

void Gateway::GetQueuePage(const Route& route, Reply reply) {
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  Json stats = QueueSummary(route.queue);
  OnPool(
      q, route.queue,
      [q, stats = std::move(stats), queue = route.queue, ctx = Context(), reply] {
        constexpr size_t kRows = 50;  // a page, not an export: the JSON routes take ?limit=
        Json failures = RetryingJobs(*q.entry, *q.jobs, queue, kRows);
        for (Json& d : DeadFailureRows(queue, q.jobs.get(), 10)) failures.push_back(std::move(d));
        reply(HtmlResponse(bhttp::status::ok,
                           QueuePage(queue, stats, q.entry->history().ToJson(),
                                     RunningJobs(*q.entry, *q.jobs, queue, kRows),
                                     DelayedJobs(*q.entry, *q.jobs, queue, kRows), failures, ctx)));
      },
      reply);
}

void Gateway::SampleHistory() {
  for (const std::string& name : registry_.Served()) {
    QueueView q;
    if (!registry_.Get(name, &q).ok()) continue;
    metrics::QueueSnapshot snap;
    if (q.entry->Snapshot(&snap)) q.entry->history().Add(snap);
  }
}

}  // namespace taskring::http
