// What a job gives back (issue 13), with a real daemon: tokens, status with every field,
// progress, results, errors, waiting, cancelling, and what survives a restart.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "taskring/job_client.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"
#include "util/clock.h"

namespace taskring {
namespace {

class JobOutcomeTest : public ::testing::Test {
 protected:
  std::unique_ptr<JobClient> OpenClient() {
    JobClientOptions o;
    o.queue = queue_;
    std::unique_ptr<JobClient> c;
    EXPECT_OK(JobClient::Open(o, &c));
    return c;
  }
  // Waits until `pred` holds for the job's status (polling: this checks what others see).
  template <typename Pred>
  JobStatus PollUntil(JobClient& c, uint64_t id, Pred pred) {
    JobStatus st;
    for (int i = 0; i < 500; ++i) {
      EXPECT_OK(c.GetStatus(id, &st));
      if (pred(st)) return st;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " stuck in " << JobStateName(st.state);
    return st;
  }
  std::string queue_ = test::UniqueQueueName("outcome");
  test::TempDir tmp_;
  std::string wal_ = tmp_.path() + "/wal";
};

TEST_F(JobOutcomeTest, EnqueueReturnsATokenThatFindsTheJobAndNoOther) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueResult a, b;
  ASSERT_OK(prod->Enqueue("a", {}, &a));
  ASSERT_OK(prod->Enqueue("b", {}, &b));
  ASSERT_TRUE(a.token.valid());
  EXPECT_EQ(a.token.id, a.job_id);
  EXPECT_NE(a.token.secret, b.token.secret);
  const std::string token = a.token.ToString();
  EXPECT_EQ(token.size(), 40u);
  auto client = OpenClient();
  JobStatus st;
  ASSERT_OK(client->GetStatus(token, &st));
  EXPECT_EQ(st.id, a.job_id);
  EXPECT_EQ(st.state, JobState::kQueued);
  EXPECT_EQ(st.token, token);
  // Another job's id with this job's secret: not found, and nothing about job b leaks.
  JobToken forged = a.token;
  forged.id = b.job_id;
  Status s = client->GetStatus(forged.ToString(), &st);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ(st.state, JobState::kUnknown);
  EXPECT_TRUE(client->GetStatus(std::string_view("not-a-token"), &st).IsInvalidArgument());
}

TEST_F(JobOutcomeTest, StatusCarriesWhatTheJobCarriesAndItsResultIsByteExact) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueOptions opts;
  opts.priority = 7;
  opts.type = "report";
  opts.headers = {{"tenant", "acme"}, {"trace", "t-1"}};
  opts.max_attempts = 4;
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("make it", &id, opts));
  auto client = OpenClient();
  JobStatus st;
  ASSERT_OK(client->GetStatus(id, &st));
  EXPECT_EQ(st.state, JobState::kQueued);
  EXPECT_EQ(st.priority, 7);
  EXPECT_EQ(st.type, "report");
  EXPECT_EQ(st.headers, opts.headers);
  EXPECT_EQ(st.max_attempts, 4u);
  EXPECT_GT(st.enqueued_unix_ns, 0u);
  EXPECT_EQ(st.started_unix_ns, 0u);

  const std::string result("binary\0result\xff", 14);
  WorkerOptions wo;
  wo.queue = queue_;
  wo.types = {"report"};
  std::unique_ptr<Worker> worker;
  ASSERT_OK(Worker::Open(wo, &worker));
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  EXPECT_EQ(job.token().ToString(), st.token);
  ASSERT_OK(worker->ReportProgress(job, 40, "parsing"));
  ASSERT_OK(client->GetStatus(id, &st));
  EXPECT_EQ(st.state, JobState::kRunning);
  EXPECT_TRUE(st.has_progress);
  EXPECT_EQ(st.progress_percent, 40u);
  EXPECT_EQ(st.progress_message, "parsing");
  EXPECT_GT(st.started_unix_ns, 0u);
  EXPECT_TRUE(worker->ReportProgress(job, 101).IsInvalidArgument());
  ASSERT_OK(worker->Complete(job, result));

  ASSERT_OK(client->Wait(id, 5000, &st));
  EXPECT_EQ(st.state, JobState::kCompleted);
  EXPECT_EQ(st.attempt, 1u);
  EXPECT_EQ(st.result_bytes, result.size());
  EXPECT_EQ(st.type, "report");
  EXPECT_EQ(st.headers, opts.headers);
  EXPECT_EQ(st.priority, 7);
  EXPECT_GE(st.finished_unix_ns, st.started_unix_ns);
  EXPECT_GE(st.started_unix_ns, st.enqueued_unix_ns);
  EXPECT_FALSE(st.has_progress);  // progress is not kept past the run
  std::string got;
  ASSERT_OK(client->GetResult(id, &got));
  EXPECT_EQ(got, result);
  ASSERT_OK(client->GetResult(std::string_view(st.token), &got));
  EXPECT_EQ(got, result);
}

TEST_F(JobOutcomeTest, FailedAttemptsShowTheirErrorAndADeadJobKeepsIt) {
  test::Daemon d(queue_, wal_, {"--retry-backoff-ms", "0"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueOptions opts;
  opts.max_attempts = 2;
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("doomed", &id, opts));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  auto client = OpenClient();
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  ASSERT_OK(worker->Fail(job, "disk full on attempt 1"));
  JobStatus st = PollUntil(*client, id, [](const JobStatus& s) {
    return s.state == JobState::kQueued && !s.error.empty();
  });
  EXPECT_EQ(st.error, "disk full on attempt 1");
  // Run() records a failing handler's Status message.
  RunOptions ro;
  ro.max_jobs = 1;
  ASSERT_OK(worker->Run([](const Job&) { return Status::IOError("upstream answered 502"); }, ro));
  ASSERT_OK(client->Wait(id, 5000, &st));
  EXPECT_EQ(st.state, JobState::kDead);
  EXPECT_EQ(st.attempt, 2u);
  EXPECT_EQ(st.error, "upstream answered 502");
  std::string result;
  Status s = client->GetResult(id, &result);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("dead"), std::string::npos) << s.ToString();
}

TEST_F(JobOutcomeTest, AnOversizedResultFailsTheAttemptWithAClearError) {
  test::Daemon d(queue_, wal_, {"--max-result", "1000", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueOptions opts;
  opts.max_attempts = 1;
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("x", &id, opts));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  RunOptions ro;
  ro.max_jobs = 1;
  ASSERT_OK(worker->Run(
      [](const Job&, std::string* result) {
        result->assign(1001, 'r');
        return Status::OK();
      },
      ro));
  auto client = OpenClient();
  JobStatus st;
  ASSERT_OK(client->Wait(id, 5000, &st));
  EXPECT_EQ(st.state, JobState::kDead);
  EXPECT_NE(st.error.find("1001 bytes exceeds"), std::string::npos) << st.error;
  EXPECT_NE(st.error.find("1000"), std::string::npos) << st.error;
}

TEST_F(JobOutcomeTest, CancelQueuedDelayedRunningAndFinishedJobs) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  auto client = OpenClient();
  uint64_t queued = 0, delayed = 0, running = 0;
  ASSERT_OK(prod->Enqueue("running", &running));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  ASSERT_EQ(job.id(), running);
  ASSERT_OK(prod->Enqueue("queued", &queued));
  EnqueueOptions later;
  later.delay_ms = 60000;
  ASSERT_OK(prod->Enqueue("delayed", &delayed, later));

  CancelOutcome out;
  ASSERT_OK(client->Cancel(queued, &out));
  EXPECT_EQ(out, CancelOutcome::kCancelled);
  ASSERT_OK(client->Cancel(delayed, &out));
  EXPECT_EQ(out, CancelOutcome::kCancelled);
  JobStatus st;
  ASSERT_OK(client->GetStatus(queued, &st));
  EXPECT_EQ(st.state, JobState::kCancelled);
  ASSERT_OK(client->GetStatus(delayed, &st));
  EXPECT_EQ(st.state, JobState::kCancelled);

  EXPECT_FALSE(job.cancel_requested());
  ASSERT_OK(client->Cancel(running, &out));
  EXPECT_EQ(out, CancelOutcome::kRequested);
  EXPECT_TRUE(job.cancel_requested());
  ASSERT_OK(client->GetStatus(running, &st));
  EXPECT_EQ(st.state, JobState::kRunning);
  EXPECT_TRUE(st.cancel_requested);
  // The handler gives up: the job ends cancelled, not retried.
  ASSERT_OK(worker->Fail(job, "stopped on request"));
  ASSERT_OK(client->Wait(running, 5000, &st));
  EXPECT_EQ(st.state, JobState::kCancelled);
  EXPECT_EQ(st.error, "stopped on request");

  ASSERT_OK(client->Cancel(queued, &out));
  EXPECT_EQ(out, CancelOutcome::kAlreadyFinished);
  EXPECT_TRUE(client->Cancel(uint64_t{1}, &out).IsNotFound());  // never handed out
  // Nothing cancelled ever reaches a worker.
  EXPECT_TRUE(worker->Take(&job, 300).IsTimedOut());
}

TEST_F(JobOutcomeTest, ACancelledRunningJobThatCompletesIsCompleted) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("x", &id));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  auto client = OpenClient();
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  CancelOutcome out;
  ASSERT_OK(client->Cancel(id, &out));
  EXPECT_EQ(out, CancelOutcome::kRequested);
  // The handler decides: its lease still lives (heartbeats go on), unlike past a timeout.
  EXPECT_OK(worker->Touch(job));
  ASSERT_OK(worker->Complete(job, "done anyway"));
  JobStatus st;
  ASSERT_OK(client->Wait(id, 5000, &st));
  EXPECT_EQ(st.state, JobState::kCompleted);
}

TEST_F(JobOutcomeTest, WaitTimesOutAndWakesWhenTheJobEnds) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("x", &id));
  auto client = OpenClient();
  JobStatus st;
  EXPECT_TRUE(client->Wait(id, 50, &st).IsTimedOut());
  EXPECT_EQ(st.state, JobState::kQueued);
  // Many threads share one JobClient and wait on the same job.
  std::vector<std::thread> waiters;
  std::atomic<int> completed{0};
  for (int i = 0; i < 8; ++i) {
    waiters.emplace_back([&] {
      JobStatus s;
      if (client->Wait(id, 10000, &s).ok() && s.state == JobState::kCompleted) ++completed;
    });
  }
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  RunOptions ro;
  ro.max_jobs = 1;
  ASSERT_OK(worker->Run([](const Job&) { return Status::OK(); }, ro));
  for (auto& t : waiters) t.join();
  EXPECT_EQ(completed.load(), 8);
}

TEST_F(JobOutcomeTest, OutcomesSurviveARestartAndCompletedAndDeadStayApart) {
  uint64_t done = 0, dead = 0, queued = 0;
  {
    test::Daemon d(queue_, wal_, {"--retry-backoff-ms", "0"});
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    EnqueueOptions once;
    once.max_attempts = 1;
    ASSERT_OK(prod->Enqueue("ok", &done));
    ASSERT_OK(prod->Enqueue("bad", &dead, once));
    auto worker = test::OpenWorker(queue_);
    ASSERT_NE(worker, nullptr);
    RunOptions ro;
    ro.max_jobs = 2;
    ASSERT_OK(worker->Run(
        [](const Job& j, std::string* result) {
          if (j.payload() == "bad") return Status::InvalidArgument("bad input");
          *result = "result of " + std::string(j.payload());
          return Status::OK();
        },
        ro));
    auto client = OpenClient();
    JobStatus st;
    ASSERT_OK(client->Wait(dead, 5000, &st));
    ASSERT_OK(client->Wait(done, 5000, &st));
    ASSERT_OK(prod->Enqueue("left", &queued));
    worker.reset();
    prod.reset();
    client.reset();
    ASSERT_EQ(d.Stop(), 0);
  }
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  auto client = OpenClient();
  JobStatus st;
  ASSERT_OK(client->GetStatus(done, &st));
  EXPECT_EQ(st.state, JobState::kCompleted);
  std::string result;
  ASSERT_OK(client->GetResult(done, &result));
  EXPECT_EQ(result, "result of ok");
  ASSERT_OK(client->GetStatus(dead, &st));
  EXPECT_EQ(st.state, JobState::kDead);
  EXPECT_EQ(st.error, "bad input");
  ASSERT_OK(client->GetStatus(queued, &st));
  EXPECT_EQ(st.state, JobState::kQueued);
  // New ids continue past the old ones.
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t next = 0;
  ASSERT_OK(prod->Enqueue("new", &next));
  EXPECT_GT(next, queued);
}

TEST_F(JobOutcomeTest, IdsAreNeverReusedEvenAfterTheWalDirectoryIsWiped) {
  uint64_t before = 0;
  {
    test::Daemon d(queue_, wal_);
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    for (int i = 0; i < 100; ++i) ASSERT_OK(prod->Enqueue("x", &before));
    prod.reset();
    ASSERT_EQ(d.Stop(), 0);
  }
  std::filesystem::remove_all(wal_);
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t after = 0;
  ASSERT_OK(prod->Enqueue("y", &after));
  EXPECT_GT(after, before);
}

TEST_F(JobOutcomeTest, FinishedJobsExpireAfterTheResultTtl) {
  test::Daemon d(queue_, wal_, {"--result-ttl", "1s"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("x", &id));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  ASSERT_OK(worker->Complete(job, "r"));
  auto client = OpenClient();
  JobStatus st;
  ASSERT_OK(client->Wait(id, 5000, &st));
  EXPECT_EQ(st.state, JobState::kCompleted);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  ASSERT_OK(client->GetStatus(id, &st));
  EXPECT_EQ(st.state, JobState::kExpired);
  std::string result;
  Status s = client->GetResult(id, &result);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

}  // namespace
}  // namespace taskring
