// taskring relay: a worker of a local queue that publishes each job to RabbitMQ with publisher
// confirms, many in flight, and completes the local job only once the broker confirmed it (the
// Outbox pattern, with the WAL as the outbox). docs/scale-out.md.
//
// A nack, an unroutable return or a lost connection is not the job's fault: the job goes back to
// the local queue with its attempt given back (Worker::Release), the relay stops taking and
// reconnects with backoff. While the broker is away the local queue fills and answers BUSY, so
// back pressure reaches the producers; nothing is dead-lettered for an outage.
#ifndef TASKRING_AMQP_RELAY_H_
#define TASKRING_AMQP_RELAY_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "amqp/amqp_endpoint.h"
#include "amqp/amqp_session.h"
#include "amqp/link_metrics.h"
#include "taskring/status.h"

namespace taskring::amqp {

struct RelayOptions {
  std::string queue;  // the local taskring queue
  AmqpEndpoint broker;
  std::string to;           // the RabbitMQ queue (declared unless declare = false)
  std::string exchange;     // "" = the default exchange, which routes by queue name
  std::string routing_key;  // "" = `to`
  bool declare = true;
  bool quorum = true;
  uint32_t in_flight = 1000;  // published and not yet confirmed, at most
  uint32_t heartbeat_s = 30;
  std::string origin;  // the message id prefix; "" = HOSTNAME/QUEUE
  uint32_t max_backoff_ms = 10000;
  uint32_t wait_for_daemon_ms = 0;  // wait this long for the local daemon at start
};

// Runs the relay until Stop(); returns OK then, or the error that made it give up (the local
// queue does not exist, a flag is wrong). Broker trouble never ends it.
Status RunRelay(const RelayOptions& options, RelayMetrics* metrics, const std::atomic<bool>& stop);

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_RELAY_H_
