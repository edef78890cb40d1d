// Worker's implementation, kept out of include/taskring/worker.h: the session (client entry and
// lane) a Worker pushes to, the lock that serialises those pushes, and Run's loops. Shared by
// worker.cc and worker_pool.cc only.
#ifndef TASKRING_CLIENT_WORKER_IMPL_H_
#define TASKRING_CLIENT_WORKER_IMPL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/session.h"
#include "taskring/job.h"
#include "taskring/options.h"
#include "taskring/status.h"
#include "taskring/worker.h"

namespace taskring {

using ResultHandler = Worker::ResultHandler;

// Nested in Worker, so it may fill in a Job (Job befriends Worker). Hidden explicitly: a nested
// class takes the visibility of the class around it, and Worker is TASKRING_EXPORT.
class __attribute__((visibility("hidden"))) Worker::Impl {
 public:
  Impl(std::unique_ptr<client::Session> session, const WorkerOptions& options);

  // What the Worker methods of the same names do.
  Status TakeMany(std::span<Job> jobs, size_t* taken, uint32_t timeout_ms);
  Status Take(Job* job, uint32_t timeout_ms) {
    size_t taken = 0;
    return TakeMany(std::span<Job>(job, 1), &taken, timeout_ms);
  }
  // Complete (success, `text` its result) or Fail (`text` its error); an empty text sends none.
  Status Finish(const Job& job, bool success, std::string_view text = {});
  Status Release(const Job& job);
  Status ReportProgress(const Job& job, uint32_t percent, std::string_view message);
  // OK while this worker holds the lease of `job`: StaleLease once it was revoked.
  Status CheckLease(const Job& job) const;
  Status CompleteMany(std::span<const Job> jobs, std::span<Status> outcomes);
  Status Touch(const Job& job);
  uint32_t lease_ms() const;
  Status Run(const ResultHandler& handler, const RunOptions& options);
  Status RunRouted(const Worker::Handlers& handlers, const RunOptions& options);
  // Declares the job types this worker takes (WorkerOptions::types); empty: every job.
  Status Declare(const std::vector<std::string>& types);
  // The declaration's two halves: in the client entry (before it is published, at Open) and in
  // this object.
  static void WriteDeclaration(segment::ClientEntry* e, const std::vector<std::string>& types);
  void AdoptDeclaration(const std::vector<std::string>& types);

  // Set by Worker::Stop from any thread or a signal handler (a lock-free store), read by Run.
  std::atomic<bool> stop{false};
  // Jobs finished (completed or failed) by this Worker; read by Worker::jobs_done.
  std::atomic<uint64_t> jobs_done{0};

 private:
  // Lane pushes from Take/Complete/Fail/Touch; serialised because heartbeats come from another
  // thread and the lane is single-producer.
  Status Push(segment::LaneOp op, uint32_t slot, uint32_t gen, uint32_t attempt);
  // Takes one job from the dispatch ring if one is there (the CAS QUEUED -> RUNNING(me) is the
  // lease) and fills in *job; the caller pushes its START record.
  bool TryLease(Job* job);
  // Takes the job the daemon offered this worker, if any (a declaring worker's only source of
  // typed jobs).
  bool TryTakeOffer(Job* job);
  // Pops the dispatch rings in use, highest priority first.
  bool TryRings(Job* job);
  // Fills *job from the slot this worker now owns.
  void FillJob(uint32_t slot, uint32_t gen, Job* job);
  // Waits up to wait_ns for a job to be offered or pushed; `try_take` tells when one came.
  template <typename TryTake>
  bool WaitForJob(int spins, uint64_t wait_ns, TryTake try_take);
  // Fences the lease of `job` for its outcome (RUNNING -> COMPLETING/FAILING); StaleLease if it
  // was revoked.
  Status Fence(const Job& job, bool success);
  // Run with options.batch > 1.
  Status RunBatches(const ResultHandler& handler, const RunOptions& options);
  // Runs the handler; an exception it throws fails the job instead of ending the process.
  static Status Invoke(const ResultHandler& handler, const Job& job, std::string* result);
  // What a failed handler's Status records as the attempt's error.
  static std::string ErrorText(const Status& s);
  // Run with options.threads > 1 (worker_pool.cc).
  Status RunPool(const ResultHandler& handler, const RunOptions& options);
  // Pushes a kCompleteResult/kFailError record with `text` in the client's result buffer,
  // after the daemon has taken the previous one (push_mu_ held by the caller).
  Status PushText(segment::LaneOp op, const Job& job, std::string_view text);
  static std::chrono::milliseconds HeartbeatPeriod(uint32_t lease_ms);
  // Run's idle exit: idle_exit_ms is set and has passed since `idle_since` (monotonic ns).
  static bool IdleExitDue(const RunOptions& options, uint64_t idle_since);

  const std::unique_ptr<client::Session> session_;
  const WorkerOptions options_;
  std::mutex push_mu_;
  // The lane position of the last record whose text is in the result buffer (guarded by
  // push_mu_): the buffer is free again once the daemon has committed it.
  bool text_in_flight_ = false;
  uint64_t text_pos_ = 0;
  // The declaration in force (mirrors the client entry's).
  bool declared_ = false;
  bool takes_untyped_ = true;
};

}  // namespace taskring

#endif  // TASKRING_CLIENT_WORKER_IMPL_H_
