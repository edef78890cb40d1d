// Leases, heartbeats, stale outcomes, retry backoff and delayed jobs, with real processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

using Clock = std::chrono::steady_clock;

class LeaseTest : public ::testing::Test {
 protected:
  uint64_t Counter(segment::Counter c) {
    std::unique_ptr<segment::Segment> seg;
    EXPECT_OK(segment::Segment::Attach(queue_, true, &seg));
    return seg ? seg->Read(c) : 0;
  }
  JobState StateOf(Producer& p, uint64_t id) {
    JobStatus st;
    EXPECT_OK(p.GetStatus(id, &st));
    return st.state;
  }
  std::string queue_ = test::UniqueQueueName("lease");
  test::TempDir tmp_;
};

TEST_F(LeaseTest, LateAckOfAStoppedWorkerIsRejectedAndTheJobCompletesOnce) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--lease-ms", "300"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("once", &id));
  // The child takes the job, stops itself before finishing, and after being resumed reports
  // its (late) completion. Exit code 0: the completion was rejected as stale.
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    auto w = test::OpenWorker(queue_);
    Job job;
    if (!w || !w->Take(&job, 5000).ok()) _exit(10);
    ::raise(SIGSTOP);
    const Status s = w->Complete(job);
    _exit(s.IsStaleLease() ? 0 : 11);
  }
  // A failed assertion below must not leave a stopped child behind.
  struct KillOnExit {
    pid_t pid;
    ~KillOnExit() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        test::WaitChild(pid);
      }
    }
  } guard{child};
  // Wait until the child holds the job (attempt 1), so this worker gets attempt 2.
  for (int i = 0; i < 1000 && StateOf(*prod, id) != JobState::kRunning; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));  // the child's lease expires and the job comes back
  EXPECT_EQ(job.id(), id);
  EXPECT_EQ(job.attempt(), 2u);
  // Keep our own lease alive (heartbeats from another thread) while the child wakes up.
  std::atomic<bool> done{false};
  std::thread heartbeat([&] {
    while (!done.load()) {
      EXPECT_OK(worker->Touch(job));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  ::kill(child, SIGCONT);
  EXPECT_EQ(test::WaitChild(child), 0) << "the late completion must be rejected";
  guard.pid = 0;
  done.store(true);
  heartbeat.join();
  ASSERT_OK(worker->Complete(job));
  for (int i = 0; i < 200 && StateOf(*prod, id) != JobState::kCompleted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(StateOf(*prod, id), JobState::kCompleted);
  EXPECT_EQ(Counter(segment::Counter::kCompleted), 1u);
  EXPECT_EQ(Counter(segment::Counter::kLeasesExpired), 1u);
  EXPECT_GE(Counter(segment::Counter::kStaleAcks), 1u);
}

TEST_F(LeaseTest, HeartbeatKeepsALongJobFromBeingHandedOutAgain) {
  // Generous margins: sanitizer builds run the daemon several times slower.
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--lease-ms", "1000"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("long", &id));
  auto slow = test::OpenWorker(queue_);
  ASSERT_NE(slow, nullptr);
  EXPECT_EQ(slow->lease_ms(), 1000u);
  std::thread other;
  RunOptions ro;
  ro.max_jobs = 1;
  ASSERT_OK(slow->Run(
      [&](const Job&) {
        // Only once this worker holds the job does a second one start asking for it.
        other = std::thread([&] {
          auto w = test::OpenWorker(queue_);
          Job job;
          // Three lease periods: without heartbeats the job would come here.
          EXPECT_TRUE(w->Take(&job, 3000).IsTimedOut())
              << "job " << job.id() << " handed out twice";
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(3500));
        return Status::OK();
      },
      ro));
  other.join();
  EXPECT_EQ(Counter(segment::Counter::kLeasesExpired), 0u);
  EXPECT_EQ(Counter(segment::Counter::kStaleAcks), 0u);
}

TEST_F(LeaseTest, TouchOfARevokedLeaseIsStale) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--lease-ms", "200"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("x", &id));
  auto w1 = test::OpenWorker(queue_);
  auto w2 = test::OpenWorker(queue_);
  Job first, second;
  ASSERT_OK(w1->Take(&first, 5000));
  ASSERT_OK(w1->Touch(first));
  ASSERT_OK(w2->Take(&second, 5000));  // after the lease ran out
  EXPECT_EQ(second.attempt(), first.attempt() + 1);
  EXPECT_TRUE(w1->Touch(first).IsStaleLease());
  EXPECT_TRUE(w1->Fail(first).IsStaleLease());
  ASSERT_OK(w2->Complete(second));
}

TEST_F(LeaseTest, FailedJobWaitsItsBackoffInTheDaemonNotInAWorker) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--retry-backoff-ms", "2000"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("flaky", &id));
  auto w = test::OpenWorker(queue_);
  Job job;
  ASSERT_OK(w->Take(&job, 5000));
  const auto failed_at = Clock::now();
  ASSERT_OK(w->Fail(job));
  EXPECT_TRUE(w->Take(&job, 100).IsTimedOut()) << "retried without backoff";
  JobState state = JobState::kUnknown;
  for (int i = 0; i < 90 && (state = StateOf(*prod, id)) != JobState::kDelayed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(state, JobState::kDelayed);
  ASSERT_OK(w->Take(&job, 10000));
  EXPECT_GE(Clock::now() - failed_at, std::chrono::milliseconds(1000))
      << "the first backoff is at least half of --retry-backoff-ms";
  EXPECT_EQ(job.attempt(), 2u);
  ASSERT_OK(w->Complete(job));
}

// A worker that cannot deliver (taskring relay with RabbitMQ down) gives jobs back: released
// more times than max attempts, the job is neither dead-lettered nor delayed, and it keeps its
// attempt number, also across a daemon restart.
TEST_F(LeaseTest, ReleasedJobRunsAgainAtOnceWithoutUsingAnAttempt) {
  const std::string wal = tmp_.path() + "/wal";
  const std::vector<std::string> flags = {"--max-attempts", "2", "--retry-backoff-ms", "600000"};
  uint64_t id = 0;
  {
    test::Daemon d(queue_, wal, flags);
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_OK(prod->Enqueue("undeliverable for now", &id));
    auto w = test::OpenWorker(queue_);
    Job job;
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK(w->Take(&job, 5000)) << "release " << i << " did not requeue at once";
      EXPECT_EQ(job.attempt(), 1u);
      ASSERT_OK(w->Release(job));
      EXPECT_TRUE(w->Release(job).IsStaleLease()) << "a release ends the lease";
    }
    // A release is not waited for: the daemon requeues the job when it next commits.
    JobState state = JobState::kUnknown;
    for (int i = 0; i < 400 && (state = StateOf(*prod, id)) != JobState::kQueued; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(state, JobState::kQueued) << "neither delayed nor dead";
    ASSERT_OK(w->Take(&job, 5000));
    ASSERT_OK(w->Release(job));
    w.reset();
    prod.reset();
    ASSERT_EQ(d.Stop(), 0);
  }
  test::Daemon d(queue_, wal, flags);
  ASSERT_TRUE(d.Start());
  auto w = test::OpenWorker(queue_);
  Job job;
  ASSERT_OK(w->Take(&job, 5000));
  EXPECT_EQ(job.id(), id);
  EXPECT_EQ(job.attempt(), 1u) << "the released attempts were not counted after the restart";
  ASSERT_OK(w->Complete(job));
}

TEST_F(LeaseTest, DelayedEnqueueRunsNoEarlierThanAsked) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  uint64_t id = 0;
  EnqueueOptions eo;
  eo.delay_ms = 2000;  // long enough to be seen as delayed even in a sanitizer build
  const auto enqueued_at = Clock::now();
  ASSERT_OK(prod->Enqueue("later", &id, eo));
  EXPECT_EQ(StateOf(*prod, id), JobState::kDelayed);
  auto w = test::OpenWorker(queue_);
  Job job;
  ASSERT_OK(w->Take(&job, 5000));
  EXPECT_GE(Clock::now() - enqueued_at, std::chrono::milliseconds(2000));
  EXPECT_EQ(job.payload(), "later");
  ASSERT_OK(w->Complete(job));
}

// Fails the job once and stops the daemon cleanly once the retry is delayed; returns its id.
uint64_t FailOnceThenStop(const std::string& queue, const std::string& wal,
                          const std::vector<std::string>& flags) {
  test::Daemon d(queue, wal, flags);
  EXPECT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue);
  uint64_t id = 0;
  EXPECT_OK(prod->Enqueue("retry me", &id));
  auto w = test::OpenWorker(queue);
  Job job;
  EXPECT_OK(w->Take(&job, 5000));
  EXPECT_OK(w->Fail(job));
  JobStatus st;
  for (int i = 0; i < 2000; ++i) {
    EXPECT_OK(prod->GetStatus(id, &st));
    if (st.state == JobState::kDelayed) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(st.state, JobState::kDelayed);
  w.reset();
  prod.reset();
  EXPECT_EQ(d.Stop(), 0);
  return id;
}

// The retry time is minutes away, so no restart, however slow (sanitizers), can outlast it:
// the recovered job must read delayed, never queued.
TEST_F(LeaseTest, DelayedRetrySurvivesADaemonRestart) {
  const std::string wal = tmp_.path() + "/wal";
  const std::vector<std::string> flags = {"--retry-backoff-ms", "600000"};
  const uint64_t id = FailOnceThenStop(queue_, wal, flags);
  test::Daemon d(queue_, wal, flags);
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  JobStatus st;
  ASSERT_OK(prod->GetStatus(id, &st));
  EXPECT_EQ(st.state, JobState::kDelayed) << "still waiting for its retry time";
  EXPECT_EQ(st.attempt, 1u) << "the failed attempt was remembered across the restart";
  auto w = test::OpenWorker(queue_);
  Job job;
  EXPECT_TRUE(w->Take(&job, 300).IsTimedOut()) << "not handed out before its time";
}

// A retry whose time comes while the daemon is down (or during its restart) runs after it, as the
// next attempt.
TEST_F(LeaseTest, RetryDueDuringARestartRunsAsTheNextAttempt) {
  const std::string wal = tmp_.path() + "/wal";
  const std::vector<std::string> flags = {"--retry-backoff-ms", "200"};
  const uint64_t id = FailOnceThenStop(queue_, wal, flags);
  test::Daemon d(queue_, wal, flags);
  ASSERT_TRUE(d.Start());
  auto w = test::OpenWorker(queue_);
  Job job;
  ASSERT_OK(w->Take(&job, 15000));
  EXPECT_EQ(job.id(), id);
  EXPECT_EQ(job.attempt(), 2u) << "the failed attempt was remembered across the restart";
  ASSERT_OK(w->Complete(job));
}

}  // namespace
}  // namespace taskring
