// Worker::Run with RunOptions::batch > 1: take up to `batch` jobs per call, run their handlers
// in order on this thread, and complete the successful ones together, so the daemon is woken
// once per batch rather than once per job.
#include <optional>
#include <string>
#include <vector>

#include "client/heartbeat.h"
#include "client/worker_impl.h"
#include "util/clock.h"

namespace taskring {

Status Worker::Impl::RunBatches(const ResultHandler& handler, const RunOptions& options) {
  std::optional<client::Heartbeat> heartbeat;
  if (options.heartbeat) {
    heartbeat.emplace(HeartbeatPeriod(lease_ms()), [this](const Job& j) { (void)Touch(j); });
  }
  std::vector<Job> jobs(options.batch);
  std::vector<Job> succeeded;
  succeeded.reserve(options.batch);
  uint64_t idle_since = util::NowMonoNs();
  uint64_t done = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    size_t want = jobs.size();
    if (options.max_jobs != 0) {
      if (done >= options.max_jobs) break;
      want = std::min<uint64_t>(want, options.max_jobs - done);
    }
    size_t taken = 0;
    Status s = TakeMany(std::span<Job>(jobs.data(), want), &taken, 100);
    if (s.IsTimedOut()) {
      if (IdleExitDue(options, idle_since)) break;
      continue;
    }
    if (!s.ok()) return s;
    if (heartbeat) {
      for (size_t i = 0; i < taken; ++i) heartbeat->Add(jobs[i]);
    }
    succeeded.clear();
    for (size_t i = 0; i < taken; ++i) {
      // Stopping mid-batch still finishes every job in hand, as Run promises.
      std::string result;
      const Status outcome = Invoke(handler, jobs[i], &result);
      if (outcome.ok() && result.empty()) {
        succeeded.push_back(jobs[i]);  // completed together below
      } else {
        s = outcome.ok() ? Finish(jobs[i], true, result)
                         : Finish(jobs[i], false, ErrorText(outcome));
        if (!s.ok() && !s.IsStaleLease() && !s.IsInvalidArgument()) return s;
      }
    }
    s = CompleteMany(succeeded, {});
    if (heartbeat) {
      for (size_t i = 0; i < taken; ++i) heartbeat->Remove(jobs[i]);
    }
    if (!s.ok()) return s;
    done += taken;
    idle_since = util::NowMonoNs();
  }
  return Status::OK();
}

}  // namespace taskring
