// Worker::Run with several handler threads in one process. The lane is single-producer, so one
// thread (the caller) owns every Take/Complete/Fail; handler threads receive jobs and return
// outcomes through moodycamel queues.
#include <concurrentqueue/blockingconcurrentqueue.h>

#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/heartbeat.h"
#include "client/worker_impl.h"
#include "taskring/worker.h"
#include "util/clock.h"

namespace taskring {

namespace {
struct Outcome {
  Job job;
  Status status;
  std::string result;
};
}  // namespace

Status Worker::Impl::RunPool(const ResultHandler& handler, const RunOptions& options) {
  moodycamel::BlockingConcurrentQueue<Job> work;
  moodycamel::BlockingConcurrentQueue<Outcome> outcomes;
  std::atomic<bool> handlers_stop{false};
  std::vector<std::thread> pool;
  pool.reserve(options.threads);
  for (uint32_t i = 0; i < options.threads; ++i) {
    pool.emplace_back([&] {
      Job job;
      while (!handlers_stop.load(std::memory_order_acquire)) {
        if (!work.wait_dequeue_timed(job, std::chrono::milliseconds(50))) continue;
        Outcome o{job, Status(), std::string()};
        o.status = Invoke(handler, job, &o.result);
        outcomes.enqueue(std::move(o));
      }
    });
  }

  std::optional<client::Heartbeat> heartbeat;
  if (options.heartbeat) {
    heartbeat.emplace(HeartbeatPeriod(lease_ms()), [this](const Job& j) { (void)Touch(j); });
  }
  uint32_t in_flight = 0;
  uint64_t taken = 0;
  uint64_t idle_since = util::NowMonoNs();
  Status result;
  auto finish_one = [&](const Outcome& o) {
    if (heartbeat) heartbeat->Remove(o.job);
    Status s =
        o.status.ok() ? Finish(o.job, true, o.result) : Finish(o.job, false, ErrorText(o.status));
    --in_flight;
    if (!s.ok() && !s.IsStaleLease() && !s.IsInvalidArgument() && result.ok()) result = s;
  };
  for (;;) {
    Outcome o;
    while (outcomes.try_dequeue(o)) finish_one(o);
    const bool want_more = result.ok() && !stop.load(std::memory_order_relaxed) &&
                           (options.max_jobs == 0 || taken < options.max_jobs);
    if (!want_more) {
      if (in_flight == 0) break;
      if (outcomes.wait_dequeue_timed(o, std::chrono::milliseconds(50))) finish_one(o);
      continue;
    }
    if (in_flight >= options.threads) {
      if (outcomes.wait_dequeue_timed(o, std::chrono::milliseconds(50))) finish_one(o);
      continue;
    }
    Job job;
    // Short waits while handlers are busy, so their outcomes are reported promptly.
    Status s = Take(&job, in_flight > 0 ? 1 : 100);
    if (s.IsTimedOut()) {
      if (in_flight == 0 && IdleExitDue(options, idle_since)) {
        break;
      }
      continue;
    }
    if (!s.ok()) {
      result = s;
      continue;
    }
    ++in_flight;
    ++taken;
    idle_since = util::NowMonoNs();
    if (heartbeat) heartbeat->Add(job);
    work.enqueue(job);
  }
  handlers_stop.store(true, std::memory_order_release);
  for (auto& t : pool) t.join();
  return result;
}

}  // namespace taskring
