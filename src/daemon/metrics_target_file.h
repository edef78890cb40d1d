// A Prometheus file_sd target file for the daemon's /metrics endpoint (--metrics-sd-file), so
// Prometheus finds every queue on a host, whichever free port each one took:
//   [{"targets": ["127.0.0.1:PORT"], "labels": {"queue": "NAME"}}]
// Written atomically (temp file + rename) once serving, removed on a clean stop; a crashed
// daemon's file stays and its target reads down, which is what alerting wants.
#ifndef TASKRING_DAEMON_METRICS_TARGET_FILE_H_
#define TASKRING_DAEMON_METRICS_TARGET_FILE_H_

#include <string>

#include "taskring/status.h"

namespace taskring::daemon {

// `address` is HOST:PORT as served; a wildcard host is written as 127.0.0.1. The file is
// world-readable (0644): it holds an address, nothing secret, and Prometheus runs as its own user.
[[nodiscard]] Status WriteMetricsTargetFile(const std::string& path, const std::string& address,
                                            const std::string& queue);

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_METRICS_TARGET_FILE_H_
