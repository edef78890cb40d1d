// JobClient: what a server needs after it answered "202 Accepted": a job's status, its result,
// waiting for it to finish, and cancelling it, by id or by token.
//
// One JobClient serves every thread of a process: reads go straight to shared memory and the
// outcome store (no lock, no round trip to the daemon), and cancels share one client entry under
// a mutex. So a server with 200 handler threads takes one client entry for this, not 200
// Producers.
//
// Statuses of finished jobs outlive their daemon's restarts for its --result-ttl (within
// --result-max-mb); a finished job past that reads kExpired. Nothing here throws.
#ifndef TASKRING_JOB_CLIENT_H_
#define TASKRING_JOB_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "taskring/export.h"
#include "taskring/job.h"
#include "taskring/options.h"
#include "taskring/status.h"

namespace taskring {

struct JobClientOptions {
  std::string queue;                   // required
  uint32_t attach_timeout_ms = 5000;   // as ProducerOptions
  uint32_t wait_for_daemon_ms = 0;     // as ProducerOptions
  uint32_t cancel_timeout_ms = 30000;  // upper bound on the daemon's answer to a cancel
};

enum class CancelOutcome : uint8_t {
  kCancelled = 1,        // it was queued or delayed: it is cancelled and will never run
  kRequested = 2,        // it is running: its handler sees Job::cancel_requested()
  kAlreadyFinished = 3,  // it had completed, died or been cancelled before
};
TASKRING_EXPORT const char* CancelOutcomeName(CancelOutcome c);

class TASKRING_EXPORT JobClient {
 public:
  // The same results as Producer::Open.
  [[nodiscard]] static Status Open(const JobClientOptions& options,
                                   std::unique_ptr<JobClient>* out);
  ~JobClient();
  JobClient(const JobClient&) = delete;
  JobClient& operator=(const JobClient&) = delete;

  // NotFound for an id never enqueued. A finished job whose outcome is no longer kept reads
  // kExpired.
  [[nodiscard]] Status GetStatus(uint64_t job_id, JobStatus* out) const;
  // By token (EnqueueResult::token): NotFound unless the token is the job's own;
  // InvalidArgument if it is not a token at all.
  [[nodiscard]] Status GetStatus(std::string_view token, JobStatus* out) const;
  // The bytes a completed job's handler returned (possibly empty). NotFound, saying why, when
  // there is none: not completed, or expired.
  [[nodiscard]] Status GetResult(uint64_t job_id, std::string* out) const;
  [[nodiscard]] Status GetResult(std::string_view token, std::string* out) const;
  // Blocks until the job is terminal (completed, dead, cancelled, expired) or timeout_ms passes
  // (TimedOut, with the latest status in *out). Sleeps on a futex the daemon wakes: no polling.
  // Closed if the daemon stops meanwhile.
  [[nodiscard]] Status Wait(uint64_t job_id, uint32_t timeout_ms, JobStatus* out) const;
  [[nodiscard]] Status Wait(std::string_view token, uint32_t timeout_ms, JobStatus* out) const;
  // Cancels a job (see CancelOutcome). NotFound for an id never enqueued or whose outcome is
  // no longer kept; Closed when the daemon is gone. Durable once it returns kCancelled.
  [[nodiscard]] Status Cancel(uint64_t job_id, CancelOutcome* out);
  [[nodiscard]] Status Cancel(std::string_view token, CancelOutcome* out);

 private:
  class Impl;
  explicit JobClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskring

#endif  // TASKRING_JOB_CLIENT_H_
