#include "http/gateway_metrics.h"

#include <prometheus/text_serializer.h>

namespace taskring::http {
namespace {

// Seconds: from a cached status read (~10 us) to a long poll (the bucket above 10 s).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};

}  // namespace

GatewayMetrics::GatewayMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("taskring_http_requests_total")
                    .Help("HTTP requests answered by the gateway, by route, queue and status code.")
                    .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("taskring_http_request_duration_seconds")
                   .Help("Time from a request's last byte to its answer, by route and queue.")
                   .Register(*registry_)),
      open_connections_(prometheus::BuildGauge()
                            .Name("taskring_http_open_connections")
                            .Help("Client connections open now.")
                            .Register(*registry_)
                            .Add({})),
      refused_connections_(prometheus::BuildCounter()
                               .Name("taskring_http_connections_refused_total")
                               .Help("Connections answered 503 and closed: over --max-connections.")
                               .Register(*registry_)
                               .Add({})) {}

void GatewayMetrics::Observe(const char* route, const std::string& queue, unsigned code,
                             double seconds) {
  requests_.Add({{"route", route}, {"queue", queue}, {"code", std::to_string(code)}}).Increment();
  latency_.Add({{"route", route}, {"queue", queue}}, kLatencyBuckets).Observe(seconds);
}

std::string GatewayMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace taskring::http
