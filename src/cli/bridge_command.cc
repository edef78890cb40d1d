// taskring bridge: enqueues a RabbitMQ queue's messages into a local queue (src/amqp/bridge.h,
// docs/scale-out.md).
#include <string>

#include "amqp/bridge.h"
#include "cli/amqp_link_flags.h"
#include "cli/commands.h"
#include "daemon/log.h"
#include "segment/queue_names.h"

namespace taskring::cli {

int BridgeCommand(int argc, char** argv) {
  const std::string cmd = "bridge";
  amqp::BridgeOptions o;
  AmqpLinkFlags link;
  uint64_t prefetch = o.prefetch;
  util::FlagSet flags(
      "taskring bridge (--amqp URL | --amqp-file F) --from QUEUE --queue NAME [flags]",
      "Consumes a RabbitMQ queue with manual acks and enqueues each message into a local queue,\n"
      "acking only once the enqueue is accepted (durable). The message id is the job's\n"
      "idempotency key, so a redelivered message creates no second job. A full local queue\n"
      "holds the messages in hand (at most --prefetch) and retries; a message that can never be\n"
      "a job is rejected (dead-lettered by the broker if the queue has a dead-letter exchange).");
  flags.String("from", &o.from, "the RabbitMQ queue to consume (required)");
  flags.String("queue", &o.queue, "the local taskring queue to enqueue into (required)");
  flags.Uint("prefetch", &prefetch, 1, 65535,
             "messages delivered and not yet acked, at most (1000)");
  link.Register(flags, "127.0.0.1:9466");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  if (o.queue.empty() || o.from.empty()) return Error(cmd, "--from and --queue are required", 2);
  s = segment::ValidateQueueName(o.queue);
  if (!s.ok()) return Error(cmd, "--queue " + o.queue + ": " + std::string(s.message()), 2);
  s = link.ApplyTo(&o);
  if (!s.ok()) return Error(cmd, std::string(s.message()), 2);
  o.prefetch = static_cast<uint32_t>(prefetch);
  daemon::SetLogProgram("taskring-bridge");
  daemon::SetLogQueue(o.queue);
  amqp::BridgeMetrics metrics(o.queue, o.from);
  return RunLink(cmd, link, flags.Seen("metrics-listen"), metrics.registry,
                 [&](const std::atomic<bool>& stop) { return amqp::RunBridge(o, &metrics, stop); });
}

}  // namespace taskring::cli
