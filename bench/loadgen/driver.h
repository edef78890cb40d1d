// The load tool's engine: forks P producer and W worker processes against a backend, runs one
// workload, and reports throughput, latency percentiles, BUSY answers and CPU per job.
//
// Latency is measured from the *intended* send time. In open loop the schedule is fixed in
// advance (job i of a producer is due at t0 + i / rate), so a stalled queue shows up as the
// latency of every job that should have been sent meanwhile, not as fewer samples: no
// coordinated omission. Times are CLOCK_MONOTONIC, one clock for every process on the host.
#ifndef TASKRING_LOADGEN_DRIVER_H_
#define TASKRING_LOADGEN_DRIVER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "loadgen/backend.h"
#include "loadgen/latency.h"

namespace taskring::loadgen {

struct LoadOptions {
  uint32_t producers = 1;
  uint32_t workers = 1;
  uint64_t jobs = 100000;       // in total, split across producers (unless duration_s is set)
  uint32_t duration_s = 0;      // if set, producers send until then instead of a job count
  uint32_t payload_bytes = 64;  // at least the 16-byte header the tool stamps in
  uint32_t batch = 1;           // payloads per send
  double rate = 0;              // jobs/s across all producers; 0 = closed loop (as fast as it can)
  uint32_t work_us = 0;         // handler time per job
  bool work_sleeps = false;     // sleep (I/O-like) instead of spinning (CPU-bound)
  uint32_t timeout_s = 300;     // the whole run, a bound against a wedged peer
  pid_t server_pid = 0;         // counted in CPU per job when set (taskringd, redis-server ...)
  // Busy-loop processes run beside the workload for its whole length, at normal priority: a real
  // host is never idle. Their CPU is not counted in CPU per job.
  uint32_t contention = 0;
  std::string scratch_dir;  // where children leave their records
};

struct LoadResult {
  uint64_t accepted = 0, busy = 0, errors = 0, received = 0, duplicates = 0;
  double seconds = 0;              // first intended send -> last finished job
  double jobs_per_second = 0;      // distinct jobs finished / seconds
  double accepted_per_second = 0;  // accepted / (first intended send -> last accepted)
  double cpu_us_per_job = 0;       // producers + workers + server, user + system
  uint64_t handed_before_ack = 0;  // jobs a worker started before their producer saw Accepted
  Percentiles enqueue;             // intended send -> accepted (returned to the producer)
  Percentiles handoff;             // accepted -> started by a worker (0 when the worker was first)
  Percentiles end_to_end;          // intended send -> finished by a worker
};

// Runs the workload. InvalidArgument for bad options; IOError/Corruption if a child failed
// (its message names the role and the reason).
Status RunLoad(const Target& target, const LoadOptions& options, LoadResult* result);

}  // namespace taskring::loadgen

#endif  // TASKRING_LOADGEN_DRIVER_H_
