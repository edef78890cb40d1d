// The gateway's request handlers: what each route answers (the contract in docs/http.md).
// Connection (connection.h) owns the sockets and the limits on what it reads; Gateway decides,
// once a request's headers are in, whether it may go on (Admit), and answers it (Handle).
//
// Nothing here blocks the io thread: enqueues and cancels run on the queue's ProducerPool,
// long polls re-read the status on an Asio timer. Thread-safe: every io thread shares one.
#ifndef TASKRING_HTTP_GATEWAY_H_
#define TASKRING_HTTP_GATEWAY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "http/gateway_metrics.h"
#include "http/gateway_options.h"
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

 private:
  void Enqueue(Request&& req, const Route& route, Reply reply);
  void GetJob(const Route& route, Reply reply, const net::any_io_executor& ex);
  void GetResult(const Route& route, Reply reply);
  void Cancel(const Route& route, Reply reply);
  // The queue and the job a route names; false with *answer set when there is none to act on:
  // the queue's error, 404 for any wrong token, 410 once it expired.
  bool FindRoutedJob(const Route& route, QueueView* q, JobStatus* st, Response* answer);
  void GetQueue(const Route& route, Reply reply);
  void Health(Reply reply);

  const GatewayOptions options_;
  const RequestGuard guard_;
  QueueRegistry registry_;
  GatewayMetrics metrics_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_GATEWAY_H_
