// The gateway's own Prometheus metrics, served on its GET /metrics (serialized onto the HTTP
// response; no second server): requests by route and code, their latency, open connections,
// enqueues waiting for a producer thread. Thread-safe (prometheus-cpp metrics are).
#ifndef TASKRING_HTTP_GATEWAY_METRICS_H_
#define TASKRING_HTTP_GATEWAY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace taskring::http {

class GatewayMetrics {
 public:
  GatewayMetrics();
  // One answered request: `route` is a RouteLabel, `queue` the queue it named ("" if none or
  // not a known queue), `code` the HTTP status.
  void Observe(const char* route, const std::string& queue, unsigned code, double seconds);
  void ConnectionOpened() { open_connections_.Increment(); }
  void ConnectionClosed() { open_connections_.Decrement(); }
  void ConnectionRefused() { refused_connections_.Increment(); }
  // The text exposition format (Content-Type: text/plain; version=0.0.4).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Gauge& open_connections_;
  prometheus::Counter& refused_connections_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_GATEWAY_METRICS_H_
