#include "amqp/link_metrics.h"

namespace taskring::amqp {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Labels;

// 100 us .. ~100 s: a confirm takes milliseconds, an outage's backlog minutes.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    100};
}

prometheus::Counter* Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help, const Labels& labels) {
  return &BuildCounter().Name(name).Help(help).Register(r).Add(labels);
}
prometheus::Gauge* Gauge(prometheus::Registry& r, const std::string& name, const std::string& help,
                         const Labels& labels) {
  return &BuildGauge().Name(name).Help(help).Register(r).Add(labels);
}
prometheus::Histogram* Histogram(prometheus::Registry& r, const std::string& name,
                                 const std::string& help, const Labels& labels) {
  return &BuildHistogram().Name(name).Help(help).Register(r).Add(labels, LatencyBuckets());
}

ConnectionMetrics ConnectionOf(prometheus::Registry& r, const std::string& link,
                               const Labels& labels) {
  const std::string p = "taskring_" + link + "_";
  return {Gauge(r, p + "connected", "1 while connected to RabbitMQ", labels),
          Counter(r, p + "reconnects_total", "connections re-established after a lost one", labels),
          Counter(r, p + "connect_failures_total",
                  "connection attempts that failed (broker down, refused login)", labels)};
}

}  // namespace

RelayMetrics::RelayMetrics(const std::string& queue, const std::string& amqp_queue)
    : registry(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry;
  const Labels l{{"queue", queue}, {"amqp_queue", amqp_queue}};
  connection = ConnectionOf(r, "relay", l);
  published = Counter(r, "taskring_relay_published_total", "jobs published to RabbitMQ", l);
  confirmed = Counter(r, "taskring_relay_confirmed_total",
                      "jobs the broker confirmed (completed locally)", l);
  nacked = Counter(r, "taskring_relay_nacked_total", "publishes the broker nacked", l);
  returned =
      Counter(r, "taskring_relay_returned_total", "publishes the broker returned as unroutable", l);
  released = Counter(r, "taskring_relay_released_total",
                     "jobs given back to the local queue without using an attempt", l);
  in_flight = Gauge(r, "taskring_relay_in_flight", "jobs published and awaiting a confirm", l);
  confirm_seconds = Histogram(r, "taskring_relay_confirm_seconds",
                              "time from publish to the broker's confirm", l);
  lag_seconds = Histogram(r, "taskring_relay_lag_seconds",
                          "time from the local enqueue to the broker's confirm", l);
}

BridgeMetrics::BridgeMetrics(const std::string& queue, const std::string& amqp_queue)
    : registry(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry;
  const Labels l{{"queue", queue}, {"amqp_queue", amqp_queue}};
  connection = ConnectionOf(r, "bridge", l);
  received = Counter(r, "taskring_bridge_received_total", "messages delivered by RabbitMQ", l);
  accepted = Counter(r, "taskring_bridge_accepted_total",
                     "messages enqueued locally (durably) and acked", l);
  duplicates = Counter(r, "taskring_bridge_duplicates_total",
                       "accepted messages whose id was already enqueued (no new job)", l);
  rejected = Counter(r, "taskring_bridge_rejected_total",
                     "messages that cannot be jobs, rejected to the broker", l);
  busy = Counter(r, "taskring_bridge_busy_total", "local enqueues answered BUSY (retried)", l);
  held = Gauge(r, "taskring_bridge_held", "messages delivered and not yet acked", l);
  lag_seconds = Histogram(r, "taskring_bridge_lag_seconds",
                          "time from the relay's local enqueue to the local enqueue here", l);
}

}  // namespace taskring::amqp
