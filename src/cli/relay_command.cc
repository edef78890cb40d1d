// taskring relay: publishes a local queue's jobs to RabbitMQ (src/amqp/relay.h,
// docs/scale-out.md).
#include <string>

#include "amqp/relay.h"
#include "cli/amqp_link_flags.h"
#include "cli/commands.h"
#include "daemon/log.h"
#include "segment/queue_names.h"

namespace taskring::cli {

int RelayCommand(int argc, char** argv) {
  const std::string cmd = "relay";
  amqp::RelayOptions o;
  AmqpLinkFlags link;
  uint64_t in_flight = o.in_flight;
  util::FlagSet flags(
      "taskring relay --queue NAME (--amqp URL | --amqp-file F) --to QUEUE [flags]",
      "Publishes each job of a local queue to RabbitMQ with publisher confirms and completes it\n"
      "only once the broker confirmed it (docs/scale-out.md). A nack or a lost connection gives\n"
      "the job back without using an attempt; while RabbitMQ is away nothing is taken, so the\n"
      "local queue fills and answers BUSY. Declares QUEUE as a durable quorum queue unless told\n"
      "not to. Each message carries message_id ORIGIN/JOB_ID, the job's type, priority and\n"
      "headers, and x-taskring-attempt and x-taskring-enqueued-ns headers.");
  flags.String("queue", &o.queue, "the local taskring queue to relay (required)");
  flags.String("to", &o.to, "the RabbitMQ queue to publish to (required)");
  flags.String("exchange", &o.exchange,
               "publish through this exchange (default: the default "
               "exchange, which routes by queue name)");
  flags.String("routing-key", &o.routing_key, "routing key (default: the --to queue's name)");
  flags.Uint("in-flight", &in_flight, 1, 65535,
             "published jobs awaiting a confirm, at most (1000)");
  flags.String("origin", &o.origin,
               "message id prefix, unique per host and queue (default: HOSTNAME/QUEUE)");
  link.Register(flags, "127.0.0.1:9465");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  if (o.queue.empty() || o.to.empty()) return Error(cmd, "--queue and --to are required", 2);
  s = segment::ValidateQueueName(o.queue);
  if (!s.ok()) return Error(cmd, "--queue " + o.queue + ": " + std::string(s.message()), 2);
  s = link.ApplyTo(&o);
  if (!s.ok()) return Error(cmd, std::string(s.message()), 2);
  o.in_flight = static_cast<uint32_t>(in_flight);
  daemon::SetLogProgram("taskring-relay");
  daemon::SetLogQueue(o.queue);
  amqp::RelayMetrics metrics(o.queue, o.to);
  return RunLink(cmd, link, flags.Seen("metrics-listen"), metrics.registry,
                 [&](const std::atomic<bool>& stop) { return amqp::RunRelay(o, &metrics, stop); });
}

}  // namespace taskring::cli
