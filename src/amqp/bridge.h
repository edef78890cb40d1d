// taskring bridge: consumes a RabbitMQ queue with manual acks and enqueues each message into a
// local taskring queue, acking only once the local enqueue is accepted (durable in the WAL).
// docs/scale-out.md.
//
// The message id is the job's idempotency key, so a message redelivered after a crash or a lost
// connection creates no second job (within the daemon's --dedup-window). A local BUSY holds the
// messages in hand and retries after the queue's hinted wait; the prefetch bounds how many the
// broker pushes meanwhile, so nothing is dropped or nacked in a loop. A message that can never
// be a job (too large, a bad type or header) is rejected to the broker, which dead-letters it
// if the queue has a dead-letter exchange.
#ifndef TASKRING_AMQP_BRIDGE_H_
#define TASKRING_AMQP_BRIDGE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "amqp/amqp_endpoint.h"
#include "amqp/link_metrics.h"
#include "taskring/status.h"

namespace taskring::amqp {

struct BridgeOptions {
  AmqpEndpoint broker;
  std::string from;   // the RabbitMQ queue (declared unless declare = false)
  std::string queue;  // the local taskring queue
  bool declare = true;
  bool quorum = true;
  uint32_t prefetch = 1000;  // delivered and not yet acked, at most
  uint32_t heartbeat_s = 30;
  uint32_t max_backoff_ms = 10000;
  uint32_t wait_for_daemon_ms = 0;  // wait this long for the local daemon at start
};

// Runs the bridge until Stop; OK then, or the error that made it give up (the local queue does
// not exist). Broker trouble never ends it.
Status RunBridge(const BridgeOptions& options, BridgeMetrics* metrics,
                 const std::atomic<bool>& stop);

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_BRIDGE_H_
