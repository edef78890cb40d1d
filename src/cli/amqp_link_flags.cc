#include "cli/amqp_link_flags.h"

#include <signal.h>

#include <cstdio>

#include "cli/commands.h"
#include "daemon/metrics_exporter.h"

namespace taskring::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop.store(true); }

}  // namespace

void AmqpLinkFlags::Register(util::FlagSet& flags, const std::string& default_metrics) {
  metrics_listen = default_metrics;
  flags.String("amqp", &url,
               "RabbitMQ URL, amqp[s]://USER:PASSWORD@HOST:PORT/VHOST (visible in ps: prefer "
               "--amqp-file)");
  flags.String("amqp-file", &url_file,
               "read the URL from this file's first line (must not be world-readable)");
  flags.String("tls-ca", &tls.ca_cert, "amqps: verify the broker against this CA (PEM)");
  flags.String("tls-cert", &tls.client_cert, "amqps: client certificate (PEM), with --tls-key");
  flags.String("tls-key", &tls.client_key, "amqps: client private key (PEM)");
  flags.Bool("tls-no-verify-hostname", &no_verify_hostname,
             "amqps: accept a certificate for another host name (the CA is still checked)");
  flags.Uint("heartbeat", &heartbeat_s, 0, 600, "AMQP heartbeat in seconds; 0 = none (30)");
  flags.Uint("max-backoff-ms", &max_backoff_ms, 100, 600000,
             "longest wait between reconnect attempts (10000)");
  flags.Uint("wait-for-daemon-ms", &wait_for_daemon_ms, 0, 3'600'000,
             "at start, wait this long for the local queue's daemon (0)");
  flags.Bool("no-declare", &no_declare, "do not declare the RabbitMQ queue (it must exist)");
  flags.Bool("classic", &classic,
             "declare a classic durable queue instead of a quorum queue (not replicated)");
  flags.String("metrics-listen", &metrics_listen,
               "Prometheus /metrics address, HOST:PORT; port 0 = any free port (" +
                   default_metrics + ", or any free port when taken)");
  flags.Bool("no-metrics", &no_metrics, "no /metrics endpoint");
}

Status AmqpLinkFlags::Endpoint(amqp::AmqpEndpoint* out) const {
  if (url.empty() == url_file.empty()) {
    return Status::InvalidArgument("give the broker with --amqp URL or --amqp-file FILE");
  }
  std::string text = url;
  if (!url_file.empty()) {
    Status s = amqp::ReadAmqpUrlFile(url_file, &text);
    if (!s.ok()) return s;
  }
  Status s = amqp::ParseAmqpUrl(text, out);
  if (!s.ok()) return s;
  if (tls.client_cert.empty() != tls.client_key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (!out->tls && (!tls.ca_cert.empty() || !tls.client_cert.empty())) {
    return Status::InvalidArgument("TLS files need an amqps:// URL");
  }
  out->tls_files = tls;
  out->tls_files.verify_hostname = !no_verify_hostname;
  return Status::OK();
}

int RunLink(const std::string& cmd, const AmqpLinkFlags& flags, bool metrics_listen_given,
            std::shared_ptr<prometheus::Registry> registry,
            const std::function<Status(const std::atomic<bool>& stop)>& run) {
  std::unique_ptr<daemon::MetricsExporter> exporter;
  if (!flags.no_metrics) {
    bool in_use = false;
    Status s = daemon::MetricsExporter::Start(flags.metrics_listen, registry, &exporter, &in_use);
    if (!s.ok() && in_use && !metrics_listen_given) {
      const std::string any =
          flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':')) + ":0";
      s = daemon::MetricsExporter::Start(any, registry, &exporter);
    }
    if (!s.ok()) return Error(cmd, std::string(s.message()), s.IsInvalidArgument() ? 2 : 1);
    const std::string host = flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':'));
    std::printf("metrics on http://%s:%d/metrics\n", host.c_str(), exporter->port());
    std::fflush(stdout);
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a broker that hangs up is an error to handle, not a death
  Status s = run(g_stop);
  if (!s.ok()) return Error(cmd, std::string(s.message()), s.IsInvalidArgument() ? 2 : 1);
  return 0;
}

}  // namespace taskring::cli
