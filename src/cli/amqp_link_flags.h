// What `taskring relay` and `taskring bridge` share on their command lines: where RabbitMQ is
// (--amqp URL or --amqp-file F, TLS files), heartbeats, queue declaration, the metrics endpoint;
// and how they run (signals, the metrics endpoint, the final line).
#ifndef TASKRING_CLI_AMQP_LINK_FLAGS_H_
#define TASKRING_CLI_AMQP_LINK_FLAGS_H_

#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "amqp/amqp_endpoint.h"
#include "taskring/status.h"
#include "util/flags.h"

namespace taskring::cli {

struct AmqpLinkFlags {
  std::string url, url_file;
  amqp::TlsFiles tls;
  bool no_verify_hostname = false;
  uint64_t heartbeat_s = 30;
  uint64_t max_backoff_ms = 10000;
  uint64_t wait_for_daemon_ms = 0;
  bool no_declare = false;
  bool classic = false;
  std::string metrics_listen;
  bool no_metrics = false;

  void Register(util::FlagSet& flags, const std::string& default_metrics);
  // After Parse: the endpoint from --amqp or --amqp-file, with the TLS files.
  Status Endpoint(amqp::AmqpEndpoint* out) const;
  // After Parse: the endpoint and the settings a relay's and a bridge's options share
  // (amqp::RelayOptions, amqp::BridgeOptions).
  template <typename LinkOptions>
  Status ApplyTo(LinkOptions* o) const {
    Status s = Endpoint(&o->broker);
    if (!s.ok()) return s;
    o->declare = !no_declare;
    o->quorum = !classic;
    o->heartbeat_s = static_cast<uint32_t>(heartbeat_s);
    o->max_backoff_ms = static_cast<uint32_t>(max_backoff_ms);
    o->wait_for_daemon_ms = static_cast<uint32_t>(wait_for_daemon_ms);
    return Status::OK();
  }
};

// Serves `registry` on --metrics-listen (unless --no-metrics; a default port taken by another
// link falls back to any free one), prints "metrics on http://HOST:PORT/metrics", then runs
// `run` until SIGTERM or SIGINT sets the stop flag. Returns the exit code.
int RunLink(const std::string& cmd, const AmqpLinkFlags& flags, bool metrics_listen_given,
            std::shared_ptr<prometheus::Registry> registry,
            const std::function<Status(const std::atomic<bool>& stop)>& run);

}  // namespace taskring::cli

#endif  // TASKRING_CLI_AMQP_LINK_FLAGS_H_
