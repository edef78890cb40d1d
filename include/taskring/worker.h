// Worker: takes jobs from a queue and reports their outcome.
//
// Take leases a job to this worker; Complete or Fail ends the lease. The lease is fenced by the
// job's (slot, attempt): if it was revoked (e.g. this process was considered dead and the job
// handed out again), Complete/Fail return StaleLease and change nothing.
//
// Thread-safety: Take/Complete/Fail on one Worker must come from one thread at a time. Stop()
// may be called from any thread or a signal handler (it is one lock-free atomic store). Run() with
// threads > 1 runs the handler on a pool inside this process (jobs pass through a moodycamel queue)
// and serialises lane access itself. ReportProgress may be called from any thread.
#ifndef TASKRING_WORKER_H_
#define TASKRING_WORKER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "taskring/export.h"
#include "taskring/job.h"
#include "taskring/options.h"
#include "taskring/status.h"

namespace taskring {

struct RunOptions {
  uint32_t threads = 1;       // handler threads in this process
  uint64_t max_jobs = 0;      // stop after this many jobs (0 = no limit)
  uint32_t idle_exit_ms = 0;  // stop after this long without a job (0 = never)
  // Extend the lease of every job in hand while its handler runs (three times per lease
  // period), so long jobs are not handed out again. Off: a handler slower than the lease loses
  // its job to another worker and its outcome is rejected as stale.
  bool heartbeat = true;
  // Jobs taken per call (TakeMany) and completed together (CompleteMany) with threads = 1.
  // Higher throughput when jobs are short; a job taken waits for those before it in the batch,
  // so keep it at 1 for long jobs (others could run them meanwhile).
  uint32_t batch = 1;
};

class TASKRING_EXPORT Worker {
 public:
  // The same results as Producer::Open.
  [[nodiscard]] static Status Open(const WorkerOptions& options, std::unique_ptr<Worker>* out);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Waits up to timeout_ms for a job. TimedOut when none came, Closed when the daemon stopped.
  [[nodiscard]] Status Take(Job* job, uint32_t timeout_ms);
  // Takes up to jobs.size() jobs in one call: waits up to timeout_ms for the first, then takes
  // those already waiting, without waiting further. *taken says how many were filled in (from
  // the front of `jobs`). TimedOut when none came, Closed when the daemon stopped.
  [[nodiscard]] Status TakeMany(std::span<Job> jobs, size_t* taken, uint32_t timeout_ms);
  [[nodiscard]] Status Complete(const Job& job);
  // Completes the job with a result (any bytes, at most the daemon's --max-result; 64 KiB by
  // default), which JobClient::GetResult returns for --result-ttl. A larger result fails the
  // attempt instead, with an error naming the bound, and returns InvalidArgument. Waits for the
  // daemon to take the bytes of the previous result before it writes them (one result buffer
  // per Worker), so it costs a round trip to the daemon that Complete(job) does not.
  [[nodiscard]] Status Complete(const Job& job, std::string_view result);
  // Completes every job in `jobs`, waking the daemon once for all of them. outcomes[i], if
  // given (same size as jobs), answers jobs[i] as Complete would; the return value is the first
  // error that is not StaleLease.
  [[nodiscard]] Status CompleteMany(std::span<const Job> jobs, std::span<Status> outcomes = {});
  // The job will be retried (up to its max attempts) or dead-lettered.
  [[nodiscard]] Status Fail(const Job& job);
  // The same, recording why (cut to 2 KiB): the job's status shows it as its last error.
  [[nodiscard]] Status Fail(const Job& job, std::string_view error);
  // How far the job in hand got: percent 0..100 and a short message (cut to 96 bytes), shown by
  // GetStatus at once. Not durable, and only the latest report is kept. Any thread may call it
  // for a job this Worker holds; StaleLease if the lease is gone.
  [[nodiscard]] Status ReportProgress(const Job& job, uint32_t percent,
                                      std::string_view message = {});
  // Gives the job back to its queue without counting this attempt, to run again at once (here
  // or in another worker): for a worker that could not start it for a reason that is not the
  // job's, such as a downstream outage (taskring relay, when RabbitMQ is unreachable). Unlike
  // Fail it can never dead-letter the job. StaleLease if the lease was already revoked. If the
  // daemon restarts before the release is on disk, the attempt counts after all.
  [[nodiscard]] Status Release(const Job& job);
  // Heartbeat: extends the job's lease by the queue's lease period (like beanstalkd `touch`).
  // StaleLease if the lease was already revoked.
  [[nodiscard]] Status Touch(const Job& job);
  // The queue's lease period: a job not finished or touched within it is handed out again.
  [[nodiscard]] uint32_t lease_ms() const;

  // Takes jobs and runs handler on each until Stop(), max_jobs or idle_exit_ms. A handler that
  // returns OK completes its job, anything else fails it. The job in hand is always finished
  // before Run returns. Returns OK on a normal stop, or the error that ended it.
  using Handler = std::function<Status(const Job&)>;
  [[nodiscard]] Status Run(const Handler& handler, const RunOptions& options = {});
  // The same with a result: what the handler leaves in *result when it returns OK completes the
  // job (Complete(job, result)); a handler that fails records its Status message as the error.
  using ResultHandler = std::function<Status(const Job&, std::string* result)>;
  [[nodiscard]] Status Run(const ResultHandler& handler, const RunOptions& options = {});
  // Routes by type, Brighter-style: each job goes to the handler of its type ("" for untyped
  // jobs). For the run, the worker takes only the types it has handlers for (unless
  // WorkerOptions::types already names them; a declared type without a handler is
  // InvalidArgument), so it never fails a job meant for another worker.
  using Handlers = std::map<std::string, Handler, std::less<>>;
  [[nodiscard]] Status Run(const Handlers& handlers, const RunOptions& options = {});
  // Makes Run return (after finishing the job in hand). Safe from any thread or a signal
  // handler while the Worker exists.
  void Stop();
  // Jobs completed or failed through this Worker so far.
  [[nodiscard]] uint64_t jobs_done() const;

 private:
  // The session (client entry and lane) and Run's machinery: src/client/worker_impl.h.
  class Impl;
  explicit Worker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskring

#endif  // TASKRING_WORKER_H_
