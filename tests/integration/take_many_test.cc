// Worker::TakeMany, CompleteMany and Run with batches, against a real daemon.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

class TakeManyTest : public ::testing::Test {
 protected:
  // Polls until job `id` reaches `want` (the daemon applies outcomes asynchronously).
  bool Reaches(Producer& p, uint64_t id, JobState want) {
    for (int i = 0; i < 500; ++i) {
      JobStatus st;
      if (p.GetStatus(id, &st).ok() && st.state == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::vector<uint64_t> EnqueueN(Producer& p, int n) {
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      uint64_t id = 0;
      EXPECT_OK(p.Enqueue("job" + std::to_string(i), &id));
      ids.push_back(id);
    }
    return ids;
  }
  std::string queue_ = test::UniqueQueueName("takemany");
  test::TempDir tmp_;
};

TEST_F(TakeManyTest, TakesWhatIsWaitingUpToTheSpanAndCompletesItAtOnce) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none"});
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  auto w = test::OpenWorker(queue_);
  const std::vector<uint64_t> ids = EnqueueN(*p, 5);
  std::vector<Job> jobs(8);
  size_t taken = 0;
  size_t total = 0;
  std::set<uint64_t> seen;
  // The daemon may still be dispatching the last ones: take until all five are in hand.
  while (total < 5) {
    ASSERT_OK(w->TakeMany(std::span<Job>(jobs.data() + total, jobs.size() - total), &taken, 5000));
    ASSERT_GE(taken, 1u);
    total += taken;
  }
  EXPECT_EQ(total, 5u) << "no more than were waiting";
  for (size_t i = 0; i < total; ++i) {
    EXPECT_EQ(jobs[i].attempt(), 1u);
    seen.insert(jobs[i].id());
  }
  EXPECT_EQ(seen, std::set<uint64_t>(ids.begin(), ids.end()));
  std::vector<Status> outcomes(total);
  ASSERT_OK(w->CompleteMany(std::span<const Job>(jobs.data(), total), outcomes));
  for (const Status& s : outcomes) EXPECT_OK(s);
  for (uint64_t id : ids) EXPECT_TRUE(Reaches(*p, id, JobState::kCompleted)) << id;
  EXPECT_EQ(w->jobs_done(), 5u);
}

TEST_F(TakeManyTest, AnEmptyQueueTimesOutAndAnEmptySpanIsRefused) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none"});
  ASSERT_TRUE(d.Start());
  auto w = test::OpenWorker(queue_);
  std::vector<Job> jobs(4);
  size_t taken = 7;
  EXPECT_TRUE(w->TakeMany(jobs, &taken, 50).IsTimedOut());
  EXPECT_EQ(taken, 0u);
  EXPECT_TRUE(w->TakeMany(std::span<Job>(), &taken, 50).IsInvalidArgument());
}

TEST_F(TakeManyTest, CompleteManyAnswersEachJobAndSkipsAStaleOne) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none"});
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  auto w = test::OpenWorker(queue_);
  EnqueueN(*p, 3);
  std::vector<Job> jobs(3);
  for (Job& j : jobs) ASSERT_OK(w->Take(&j, 5000));
  ASSERT_OK(w->Complete(jobs[1]));  // finished already: its lease is gone
  std::vector<Status> outcomes(3);
  EXPECT_OK(w->CompleteMany(jobs, outcomes)) << "a stale lease is not an error of the call";
  EXPECT_OK(outcomes[0]);
  EXPECT_TRUE(outcomes[1].IsStaleLease()) << outcomes[1].ToString();
  EXPECT_OK(outcomes[2]);
  for (const Job& j : jobs) EXPECT_TRUE(Reaches(*p, j.id(), JobState::kCompleted)) << j.id();
  std::vector<Status> wrong(2);
  EXPECT_TRUE(w->CompleteMany(jobs, wrong).IsInvalidArgument());
}

// A worker killed with a batch in hand, one job of it completed: the others run again on another
// worker (attempt 2), the completed one does not.
TEST_F(TakeManyTest, AWorkerKilledMidBatchLosesNothingAndRepeatsNothingCompleted) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "fsync"});
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  const std::vector<uint64_t> ids = EnqueueN(*p, 4);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto w = test::OpenWorker(queue_);
    std::vector<Job> jobs(4);
    size_t total = 0, taken = 0;
    while (w && total < 4 &&
           w->TakeMany(std::span<Job>(jobs.data() + total, 4 - total), &taken, 5000).ok()) {
      total += taken;
    }
    if (total != 4 || !w->Complete(jobs[0]).ok()) ::_exit(3);
    const uint64_t done = jobs[0].id();
    if (::write(pipe_fds[1], &done, sizeof(done)) != sizeof(done)) ::_exit(4);
    ::pause();  // killed here, three jobs in hand
    ::_exit(5);
  }
  ::close(pipe_fds[1]);
  uint64_t completed = 0;
  ASSERT_EQ(::read(pipe_fds[0], &completed, sizeof(completed)),
            static_cast<ssize_t>(sizeof(completed)));
  ::close(pipe_fds[0]);
  ASSERT_TRUE(Reaches(*p, completed, JobState::kCompleted));
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);

  auto w = test::OpenWorker(queue_);
  std::map<uint64_t, uint32_t> again;  // id -> attempt
  Job job;
  while (again.size() < 3 && w->Take(&job, 5000).ok()) {
    again[job.id()] = job.attempt();
    ASSERT_OK(w->Complete(job));
  }
  EXPECT_FALSE(w->Take(&job, 300).ok()) << "job " << job.id() << " came back once more";
  ASSERT_EQ(again.size(), 3u) << d.Log();
  EXPECT_EQ(again.count(completed), 0u) << "the completed job ran again";
  for (const auto& [id, attempt] : again) EXPECT_EQ(attempt, 2u) << id;
  for (uint64_t id : ids) EXPECT_TRUE(Reaches(*p, id, JobState::kCompleted)) << id;
}

TEST_F(TakeManyTest, RunInBatchesCompletesSuccessesAndRetriesFailures) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none", "--retry-backoff-ms", "1"});
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  const std::vector<uint64_t> ids = EnqueueN(*p, 20);
  auto w = test::OpenWorker(queue_);
  std::map<uint64_t, int> runs;
  RunOptions o;
  o.batch = 8;
  o.idle_exit_ms = 500;
  const uint64_t flaky = ids[5];
  ASSERT_OK(w->Run(
      [&](const Job& j) {
        ++runs[j.id()];
        return j.id() == flaky && j.attempt() == 1 ? Status::IOError("first try fails")
                                                   : Status::OK();
      },
      o));
  EXPECT_EQ(runs.size(), 20u);
  EXPECT_EQ(runs[flaky], 2);
  for (uint64_t id : ids) {
    EXPECT_TRUE(Reaches(*p, id, JobState::kCompleted)) << id;
    if (id != flaky) {
      EXPECT_EQ(runs[id], 1) << id;
    }
  }
}

}  // namespace
}  // namespace taskring
