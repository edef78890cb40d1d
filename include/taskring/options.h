// Options for opening producers and workers. Every field has a default; comments say what a
// change costs.
#ifndef TASKRING_OPTIONS_H_
#define TASKRING_OPTIONS_H_

#include <cstdint>
#include <string>

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

struct EnqueueOptions {
  // Attempts before the job is dead-lettered; 0 = the queue's default (taskringd
  // --max-attempts).
  uint32_t max_attempts = 0;
  // Run no earlier than this many ms from now (the job waits in the daemon, not in a worker).
  uint64_t delay_ms = 0;
};

struct WorkerOptions {
  std::string queue;
  // As in ProducerOptions.
  uint32_t attach_timeout_ms = 5000;
  uint32_t wait_for_daemon_ms = 0;
  // Busy-poll rounds before sleeping when the queue is empty: a job arriving during the spin is
  // picked up in ~0.3 us instead of ~5 us for a futex wake, at the price of a busy core.
  uint32_t spin_iterations = 2000;
};

}  // namespace taskring

#endif  // TASKRING_OPTIONS_H_
