// The Prometheus metrics of `taskring relay` and `taskring bridge`, in a registry the command
// serves on --metrics-listen (daemon/metrics_exporter.h). Labelled by both ends of the link:
// queue (the local taskring queue) and amqp_queue (the RabbitMQ queue). Thread-safe
// (prometheus-cpp metrics are), though each link updates its own from one thread.
#ifndef TASKRING_AMQP_LINK_METRICS_H_
#define TASKRING_AMQP_LINK_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace taskring::amqp {

// What both links count about their connection to the broker.
struct ConnectionMetrics {
  prometheus::Gauge* connected;           // 1 while a session is open
  prometheus::Counter* reconnects;        // sessions opened after a lost one
  prometheus::Counter* connect_failures;  // attempts that failed (broker down, refused login)
};

struct RelayMetrics {
  RelayMetrics(const std::string& queue, const std::string& amqp_queue);
  std::shared_ptr<prometheus::Registry> registry;
  ConnectionMetrics connection;
  prometheus::Counter* published;  // sent, not yet confirmed or not
  prometheus::Counter* confirmed;  // acked by the broker: the local job is completed
  prometheus::Counter* nacked;     // refused by the broker: given back to the local queue
  prometheus::Counter* returned;   // unroutable (no queue bound): given back, publishing paused
  prometheus::Counter* released;   // given back without using an attempt (nack, return, outage)
  prometheus::Gauge* in_flight;    // published, awaiting the broker's confirm
  prometheus::Histogram* confirm_seconds;  // publish -> confirm
  prometheus::Histogram* lag_seconds;      // local enqueue -> confirmed by the broker
};

struct BridgeMetrics {
  BridgeMetrics(const std::string& queue, const std::string& amqp_queue);
  std::shared_ptr<prometheus::Registry> registry;
  ConnectionMetrics connection;
  prometheus::Counter* received;       // deliveries taken from the broker (redeliveries included)
  prometheus::Counter* accepted;       // enqueued durably, then acked to the broker
  prometheus::Counter* duplicates;     // accepted as a repeat of a message id already enqueued
  prometheus::Counter* rejected;       // cannot be a job (too large, bad type or header): rejected
  prometheus::Counter* busy;           // enqueues answered BUSY, retried after the hinted wait
  prometheus::Gauge* held;             // delivered, not yet acked (at most --prefetch)
  prometheus::Histogram* lag_seconds;  // the relay's enqueue -> accepted here (relayed only)
};

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_LINK_METRICS_H_
