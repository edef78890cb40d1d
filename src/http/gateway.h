// The gateway's request handlers: what each route answers (the contract in docs/http.md).
// Connection (connection.h) owns the sockets and the limits on what it reads; Gateway decides,
// once a request's headers are in, whether it may go on (Admit), and answers it (Handle).
//
// Nothing here blocks the io thread: enqueues and cancels run on the queue's ProducerPool,
// long polls re-read the status on an Asio timer. Thread-safe: every io thread shares one.
#ifndef TASKRING_HTTP_GATEWAY_H_
#define TASKRING_HTTP_GATEWAY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "http/gateway_metrics.h"
#include "http/gateway_options.h"
#include "http/html_page.h"
#include "http/http_types.h"
#include "http/queue_registry.h"
#include "http/request_guard.h"
#include "http/route.h"

namespace taskring::http {

class Gateway {
 public:
  Gateway(const GatewayOptions& options, RequestGuard guard);

  // After the headers of `req`: the answer to send at once (and then close, unless the request
  // has no body) when the request is refused (Host, Origin, token, route, method, a body too
  // large for its queue); else nullopt, with *route parsed and *body_limit the most body bytes
  // to read.
  std::optional<Response> Admit(const Request& req, Route* route, uint64_t* body_limit);
  // Answers an admitted request, now or later, through `reply`. `ex`: the connection's
  // executor, for timers.
  void Handle(Request&& req, const Route& route, Reply reply, const net::any_io_executor& ex);

  // Before the io_context goes: no pool thread may post to it afterwards.
  void StopPools() { registry_.StopPools(); }
  GatewayMetrics& metrics() { return metrics_; }
  // The `queue` label of a request's metrics: its queue if known (QueueRegistry::Known), else
  // "" (a 404 for a made-up name must not add a series).
  std::string QueueLabel(const Route& route) const {
    return !route.queue.empty() && registry_.Known(route.queue) ? route.queue : std::string();
  }
  const GatewayOptions& options() const { return options_; }
  // Adds a sample of every served queue to its history (history.h). The server calls it every
  // History::kIntervalMs on an io thread: one snapshot per queue, as a GET /queues/{q} costs.
  void SampleHistory();
  const std::string& csrf_token() const { return csrf_; }

 private:
  void Enqueue(Request&& req, const Route& route, Reply reply);
  void GetJob(const Route& route, Reply reply, const net::any_io_executor& ex);
  void GetResult(const Route& route, Reply reply);
  // `redirect_to_page`: a browser's form post, answered 303 to the job's page.
  void Cancel(const Route& route, Reply reply, bool redirect_to_page = false);
  // The queue and the job a route names; false with *answer set when there is none to act on:
  // the queue's error, 404 for any wrong token, 410 once it expired.
  bool FindRoutedJob(const Route& route, QueueView* q, JobStatus* st, Response* answer);
  void GetQueue(const Route& route, Reply reply);
  void Health(Reply reply);
  // The web pages and the JSON they read (gateway_lists.cc, dead_letter_routes.cc).
  PageContext Context() const { return PageContext{csrf_, options_.read_only}; }
  // One /queues item: Stats() plus state, counters and latency quantiles; {queue, state:
  // "down", error} when the queue cannot be read.
  Json QueueSummary(const std::string& name);
  void GetQueues(const Route& route, bool html, Reply reply);
  void GetQueuePage(const Route& route, Reply reply);
  void GetList(const Route& route, Reply reply);
  void GetHistory(const Route& route, Reply reply);
  void GetDead(const Route& route, bool html, Reply reply);
  void DeadAction(const Route& route, bool browser, Reply reply);
  void GetJobPage(const Route& route, Reply reply);
  // GET: the form; POST token=…: with the --token-file token, 303 to / with the login cookie.
  void Login(const Request& req, Reply reply);
  // Runs `work` on the queue's producer pool (blocking reads and file I/O stay off the io
  // threads); answers 503 gateway_busy when the pool's queue is full.
  void OnPool(const QueueView& q, const std::string& queue, std::function<void()> work,
              const Reply& reply);

  const GatewayOptions options_;
  const RequestGuard guard_;
  const std::string csrf_;  // csrf.h: random per process
  QueueRegistry registry_;
  GatewayMetrics metrics_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_GATEWAY_H_
