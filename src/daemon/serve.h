// taskringd as a function: serves one queue until SIGTERM/SIGINT. Creates the queue on first
// start and recovers it from the WAL afterwards. main.cc only turns flags into a ServeConfig.
#ifndef TASKRING_DAEMON_SERVE_H_
#define TASKRING_DAEMON_SERVE_H_

#include <cstdint>
#include <string>

namespace taskring::daemon {

// taskringd's flags, validated by the caller (flag ranges, queue name, listen address).
struct ServeConfig {
  std::string queue;
  std::string dir;
  uint64_t capacity = 16384;
  uint64_t max_payload = 4096;
  std::string durability = "fsync";
  uint64_t interval_ms = 100;
  uint64_t max_attempts = 3;
  uint64_t max_clients = 256;
  uint64_t lane_capacity = 1024;
  uint64_t wal_segment_mb = 64;
  uint64_t wal_prewrite_kb = 1024;
  uint64_t shutdown_grace_ms = 5000;
  uint64_t lease_ms = 30000;
  uint64_t retry_backoff_ms = 1000;
  uint64_t max_backoff_ms = 300000;
  uint64_t dead_max = 10000;
  uint64_t job_timeout_ms = 0;       // a job's execution limit when it sets none; 0 = none
  std::string dedup_window = "24h";  // idempotency keys are remembered this long
  uint64_t dedup_max = 1000000;      // ... and at most this many (oldest forgotten first)
  uint64_t max_result = 65536;       // bytes of a job's result
  std::string result_ttl = "24h";    // outcomes (status, result, error) are kept this long
  uint64_t result_max_mb = 256;      // ... within this many MiB (oldest dropped first)
  std::string metrics_listen = "127.0.0.1:9464";
  std::string metrics_sd_file;
  bool metrics_listen_given = false;  // an explicit address is never swapped for a free port
  bool no_metrics = false;
  uint64_t ready_fd = 0;
  bool ready_fd_given = false;
  bool group = false;
  bool salvage = false;
};

// Serves until a signal stops it; blocks SIGTERM and SIGINT in the calling thread (call it from
// the main thread, before other threads start). Returns the process exit code: 0 after a clean
// stop, 1 when the queue could not be started or its last WAL flush failed (the reason is
// printed on stderr).
int Serve(const ServeConfig& cfg);

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_SERVE_H_
