// Options for opening producers and workers. Every field has a default; comments say what a
// change costs.
#ifndef TASKRING_OPTIONS_H_
#define TASKRING_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace taskring {

struct ProducerOptions {
  // Queue name (the daemon's --queue). Required.
  std::string queue;
  // How long Open waits for a daemon that is still starting (recovering its WAL); after that
  // it returns NotReady.
  uint32_t attach_timeout_ms = 5000;
  // How long Open waits for a daemon that is not running at all (not started yet, stopped,
  // crashed, being restarted). 0: fail at once with NotFound or Closed. A supervisor's restart
  // (systemd) takes about a second, plus recovery.
  uint32_t wait_for_daemon_ms = 0;
  // Upper bound on waiting for the daemon to log an enqueued job. Reached only if the daemon
  // is stuck (e.g. a disk that blocks): the call then fails with IOError, job not accepted.
  uint32_t commit_timeout_ms = 30000;
  // Busy-poll rounds before sleeping on a futex while waiting for the WAL commit. Higher trades
  // CPU for latency on a machine with spare cores.
  uint32_t spin_iterations = 2000;
};

// Job priorities: 0 (last) to 9 (first); a job without one gets kDefaultPriority, so a job can
// be made more or less urgent than the default.
inline constexpr int kMinPriority = 0;
inline constexpr int kMaxPriority = 9;
inline constexpr int kDefaultPriority = 5;

// Limits of what a job carries besides its payload (bad values are InvalidArgument).
inline constexpr size_t kMaxTypeBytes = 64;          // [A-Za-z0-9._:-]+
inline constexpr size_t kMaxKeyBytes = 128;          // visible ASCII (0x21-0x7e)
inline constexpr size_t kMaxHeaders = 16;            //
inline constexpr size_t kMaxHeaderNameBytes = 64;    // [A-Za-z0-9._-]+
inline constexpr size_t kMaxHeaderValueBytes = 256;  // no control characters
// Type, key and headers, encoded; they share the slot with the payload: payload + meta must
// fit the queue's max payload.
inline constexpr size_t kMaxJobMetaBytes = 1024;

struct EnqueueOptions {
  // Attempts before the job is dead-lettered; 0 = the queue's default (taskringd
  // --max-attempts).
  uint32_t max_attempts = 0;
  // Run no earlier than this many ms from now (the job waits in the daemon, not in a worker).
  uint64_t delay_ms = 0;
  // Run no earlier than this wall-clock time (ns since the Unix epoch); 0 = not set. Setting
  // both delay_ms and run_at_unix_ns is InvalidArgument.
  uint64_t run_at_unix_ns = 0;
  // kMinPriority..kMaxPriority, higher taken first (docs/architecture.md says how exactly).
  int priority = kDefaultPriority;
  // A short name such as "email.send", carried to the worker; workers declaring types take only
  // those (WorkerOptions::types). Empty: an untyped job, taken by any worker that takes those.
  std::string type;
  // A few string key/values carried to the worker (trace and correlation ids).
  std::vector<std::pair<std::string, std::string>> headers;
  // Execution limit of one attempt; 0 = the queue's default (taskringd --job-timeout-ms; none
  // if that is 0). When it passes the job reports cancel_requested(), its lease is no longer
  // extended and the attempt fails as timed out.
  uint32_t timeout_ms = 0;
  // Idempotency key: an enqueue with a key the queue saw within its dedup window (taskringd
  // --dedup-window) creates nothing and answers the first job's id, whatever that job's state.
  // Only for one job at a time (Producer::Enqueue); EnqueueBatch refuses it.
  std::string idempotency_key;
};

struct WorkerOptions {
  std::string queue;
  // As in ProducerOptions.
  uint32_t attach_timeout_ms = 5000;
  uint32_t wait_for_daemon_ms = 0;
  // Busy-poll rounds before sleeping when the queue is empty: a job arriving during the spin is
  // picked up in ~0.3 us instead of ~5 us for a futex wake, at the price of a busy core.
  uint32_t spin_iterations = 2000;
  // Job types this worker takes; empty: every job, typed or not. List "" to take untyped jobs
  // as well as the named types. At most kMaxWorkerTypes.
  std::vector<std::string> types;
};

inline constexpr size_t kMaxWorkerTypes = 16;

}  // namespace taskring

#endif  // TASKRING_OPTIONS_H_
