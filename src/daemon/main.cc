// taskringd: its flags. The daemon itself is daemon::Serve (serve.cc), in the daemon library.
#include <cstdio>
#include <string>

#include "daemon/metrics_exporter.h"
#include "daemon/serve.h"
#include "segment/segment.h"
#include "util/duration.h"
#include "util/flags.h"
#include "util/version.h"

namespace {
int Fail(const std::string& msg) {
  std::fprintf(stderr, "taskringd: %s\n", msg.c_str());
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  taskring::daemon::ServeConfig cfg;
  taskring::util::FlagSet flags(
      "taskringd --queue NAME --dir DIR [flags]",
      "Serves one taskring queue in the foreground: creates it on first start and recovers it\n"
      "from the write-ahead log in DIR on later starts. SIGTERM/SIGINT stop admitting, flush and\n"
      "exit 0; unfinished jobs stay in the WAL.");
  flags.String("queue", &cfg.queue, "queue name (letters, digits, _ - .)");
  flags.String("dir", &cfg.dir, "WAL directory (created if missing)");
  flags.Uint("capacity", &cfg.capacity, 1, 1u << 24,
             "max outstanding jobs; a full queue answers BUSY (16384). Shared memory is "
             "reserved for capacity x max-payload at start: 70 MiB by default, 270 MiB at "
             "65536 (the log line 'serving:' says how much)");
  flags.Uint("max-payload", &cfg.max_payload, 1, 16u << 20,
             "max payload bytes per job (default 4096)");
  flags.Choice("durability", &cfg.durability, {"fsync", "interval", "none"},
               "fsync: accepted = on disk (default); interval: fsync every --interval-ms; "
               "none: survives process crashes, not host crashes");
  flags.Uint("interval-ms", &cfg.interval_ms, 1, 60000, "fsync period in interval mode (100)");
  flags.Uint("max-attempts", &cfg.max_attempts, 1, 255,
             "default attempts before a job is dead-lettered (3)");
  flags.Uint("lease-ms", &cfg.lease_ms, 100, 86400000,
             "a running job with no heartbeat for this long is handed out again (30000)");
  flags.Uint("retry-backoff-ms", &cfg.retry_backoff_ms, 0, 3600000,
             "delay before the first retry of a failed job; doubles per attempt (1000)");
  flags.Uint("max-backoff-ms", &cfg.max_backoff_ms, 0, 86400000, "cap of one retry delay (300000)");
  flags.Uint("dead-max", &cfg.dead_max, 0, 100000000,
             "dead letters kept in DIR/dead; the oldest beyond this are removed (10000)");
  flags.Uint("job-timeout-ms", &cfg.job_timeout_ms, 0, 86400000,
             "execution limit of a job that sets none; 0 = none (0)");
  flags.String("dedup-window", &cfg.dedup_window,
               "how long an idempotency key is remembered, e.g. 5m, 24h (24h)");
  flags.Uint("dedup-max", &cfg.dedup_max, 1, 100000000,
             "most idempotency keys remembered; the oldest are forgotten first (1000000)");
  flags.Uint("max-result", &cfg.max_result, 0, 16u << 20,
             "max bytes of a job's result; a larger one fails the attempt (65536). Each client "
             "entry reserves this much shared memory for results on their way in");
  flags.String("result-ttl", &cfg.result_ttl,
               "how long a finished job's status, result and error are kept, e.g. 1h, 7d (24h)");
  flags.Uint("result-max-mb", &cfg.result_max_mb, 1, 1u << 20,
             "MiB of outcomes kept in DIR/outcomes; the oldest are dropped first (256)");
  flags.Uint("max-clients", &cfg.max_clients, 1, 4096,
             "client handles attached at once: each open Producer or Worker (and each "
             "`taskring enqueue`/`worker` thread) takes one; more get ResourceExhausted (256)");
  flags.Uint("ready-fd", &cfg.ready_fd, 0, 65535,
             "once serving, write 'ready ...' to this file descriptor and close it (for "
             "scripts; under systemd Type=notify, READY=1 is sent by itself)");
  flags.Uint("lane-capacity", &cfg.lane_capacity, 2, 65536,
             "records per client lane, a power of two (1024)");
  flags.Uint("wal-segment-mb", &cfg.wal_segment_mb, 1, 4096, "WAL segment file size (64)");
  flags.Uint("wal-prewrite-kb", &cfg.wal_prewrite_kb, 0, 1 << 20,
             "zero-fill WAL segments this far ahead of the records, so an fdatasync flushes data "
             "and not the file size too (1024; 0 appends, for copy-on-write file systems)");
  flags.Uint("shutdown-grace-ms", &cfg.shutdown_grace_ms, 0, 600000,
             "on SIGTERM, wait this long for running jobs (5000)");
  flags.String("metrics-listen", &cfg.metrics_listen,
               "Prometheus /metrics address, HOST:PORT; port 0 = any free port (default "
               "127.0.0.1:9464, or any free port when another daemon has it)");
  flags.String("metrics-sd-file", &cfg.metrics_sd_file,
               "write a Prometheus file_sd target file for the endpoint here (removed on a "
               "clean stop); point file_sd_configs at e.g. /run/taskring/*.json");
  flags.Bool("no-metrics", &cfg.no_metrics, "no HTTP endpoint (`taskring stat` still works)");
  flags.Bool("group", &cfg.group, "let the owner's group read/write the segment and WAL");
  flags.Bool("salvage", &cfg.salvage,
             "recover past mid-log WAL corruption, skipping damaged records (loses them)");
  flags.ConfigFlag();
  flags.Version("taskringd", taskring::util::kVersion);
  taskring::Status s = flags.Parse(argc, argv, 1);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (flags.version()) {
    std::fputs(flags.VersionLine().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Fail(std::string(s.message()) + " (see --help)");
  cfg.metrics_listen_given = flags.Seen("metrics-listen");
  cfg.ready_fd_given = flags.Seen("ready-fd");
  if (cfg.queue.empty() || cfg.dir.empty()) {
    return Fail("--queue and --dir are required (see --help)");
  }
  s = taskring::segment::ValidateQueueName(cfg.queue);
  if (!s.ok()) return Fail(std::string(s.message()));
  if (!cfg.no_metrics) {
    s = taskring::daemon::ValidateListenAddress(cfg.metrics_listen);
    if (!s.ok()) return Fail(std::string(s.message()));
  }
  uint64_t dedup_window_ms = 0;
  s = taskring::util::ParseDurationMs(cfg.dedup_window, &dedup_window_ms);
  if (!s.ok() || dedup_window_ms == 0) {
    return Fail("--dedup-window: " +
                (s.ok() ? std::string("must be more than 0") : std::string(s.message())));
  }
  if ((cfg.lane_capacity & (cfg.lane_capacity - 1)) != 0) {
    return Fail("--lane-capacity must be a power of two");
  }
  return taskring::daemon::Serve(cfg);
}
