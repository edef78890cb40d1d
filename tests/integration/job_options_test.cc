// What a job carries in (issue 12), with a real daemon: priority order, routing by type,
// headers, run-at, timeouts, and bad options refused with a message.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"
#include "util/clock.h"

namespace taskring {
namespace {

class JobOptionsTest : public ::testing::Test {
 protected:
  uint64_t Counter(segment::Counter c) {
    std::unique_ptr<segment::Segment> seg;
    EXPECT_OK(segment::Segment::Attach(queue_, true, &seg));
    return seg ? seg->Read(c) : 0;
  }
  uint64_t WaitingUndeclared() {
    std::unique_ptr<segment::Segment> seg;
    EXPECT_OK(segment::Segment::Attach(queue_, true, &seg));
    return seg ? seg->header()->waiting_undeclared.load() : 0;
  }
  static EnqueueOptions Priority(int p) {
    EnqueueOptions o;
    o.priority = p;
    return o;
  }
  static EnqueueOptions Typed(const std::string& type) {
    EnqueueOptions o;
    o.type = type;
    return o;
  }
  std::string queue_ = test::UniqueQueueName("jobopt");
  test::TempDir tmp_;
};

TEST_F(JobOptionsTest, QueuedHigherPrioritiesAreTakenFirstFifoWithinOne) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  // Enqueued before any worker exists, in mixed order.
  const int priorities[] = {0, 5, 9, 5, 2, 9, 7, 0, 5};
  std::vector<std::pair<int, uint64_t>> enqueued;
  for (int p : priorities) {
    uint64_t id = 0;
    ASSERT_OK(prod->Enqueue("p" + std::to_string(p), &id, Priority(p)));
    enqueued.push_back({p, id});
  }
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  std::vector<std::pair<int, uint64_t>> taken;
  for (size_t i = 0; i < enqueued.size(); ++i) {
    Job job;
    ASSERT_OK(worker->Take(&job, 5000));
    EXPECT_EQ(job.payload(), "p" + std::to_string(job.priority()));
    taken.push_back({job.priority(), job.id()});
    ASSERT_OK(worker->Complete(job));
  }
  // Expected: by priority descending, then by id (enqueue order) ascending.
  auto expected = enqueued;
  std::stable_sort(expected.begin(), expected.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  EXPECT_EQ(taken, expected);
}

TEST_F(JobOptionsTest, AHighPriorityJobOvertakesAQueuedBacklog) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  std::vector<std::string_view> backlog(200, "low");
  std::vector<EnqueueResult> results(backlog.size());
  ASSERT_OK(prod->EnqueueBatch(backlog, results, Priority(1)));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));  // the backlog is being handed out
  ASSERT_OK(worker->Complete(job));
  uint64_t urgent = 0;
  ASSERT_OK(prod->Enqueue("urgent", &urgent, Priority(8)));
  ASSERT_OK(worker->Take(&job, 5000));
  EXPECT_EQ(job.id(), urgent) << "taken after " << job.payload();
  ASSERT_OK(worker->Complete(job));
}

TEST_F(JobOptionsTest, TypeHeadersAndTimeoutReachTheWorker) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--job-timeout-ms", "60000"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueOptions o;
  o.type = "email.send";
  o.headers = {{"trace-id", "abc123"}, {"tenant", "acme corp"}};
  o.priority = 7;
  uint64_t typed = 0, plain = 0;
  ASSERT_OK(prod->Enqueue("hello", &typed, o));
  EnqueueOptions t;
  t.timeout_ms = 1234;
  ASSERT_OK(prod->Enqueue("plain", &plain, t));
  auto worker = test::OpenWorker(queue_);  // takes every type
  ASSERT_NE(worker, nullptr);
  std::set<uint64_t> seen;
  for (int i = 0; i < 2; ++i) {
    Job job;
    ASSERT_OK(worker->Take(&job, 5000));
    seen.insert(job.id());
    if (job.id() == typed) {
      EXPECT_EQ(job.type(), "email.send");
      EXPECT_EQ(job.priority(), 7);
      EXPECT_EQ(job.header("trace-id"), "abc123");
      EXPECT_EQ(job.header("tenant"), "acme corp");
      EXPECT_FALSE(job.header("missing").has_value());
      EXPECT_EQ(job.timeout_ms(), 60000u) << "the queue's default";
    } else {
      EXPECT_EQ(job.type(), "");
      EXPECT_TRUE(job.headers().empty());
      EXPECT_EQ(job.priority(), kDefaultPriority);
      EXPECT_EQ(job.timeout_ms(), 1234u);
    }
    ASSERT_OK(worker->Complete(job));
  }
  EXPECT_EQ(seen, (std::set<uint64_t>{typed, plain}));
}

TEST_F(JobOptionsTest, AWorkerDeclaringTypesTakesOnlyThose) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  WorkerOptions wo;
  wo.queue = queue_;
  wo.types = {"resize"};
  std::unique_ptr<Worker> resizer;
  ASSERT_OK(Worker::Open(wo, &resizer));
  uint64_t email = 0, plain = 0, resize1 = 0, resize2 = 0;
  ASSERT_OK(prod->Enqueue("e", &email, Typed("email")));
  ASSERT_OK(prod->Enqueue("p", &plain));
  ASSERT_OK(prod->Enqueue("r1", &resize1, Typed("resize")));
  ASSERT_OK(prod->Enqueue("r2", &resize2, Typed("resize")));
  Job job;
  ASSERT_OK(resizer->Take(&job, 5000));
  EXPECT_EQ(job.id(), resize1);
  ASSERT_OK(resizer->Complete(job));
  ASSERT_OK(resizer->Take(&job, 5000));
  EXPECT_EQ(job.id(), resize2);
  ASSERT_OK(resizer->Complete(job));
  EXPECT_TRUE(resizer->Take(&job, 300).IsTimedOut()) << "took job " << job.id();
  // Nobody can take the email job but an any-type worker, which does not exist yet: it waits,
  // and the gauge says so.
  for (int i = 0; i < 200 && WaitingUndeclared() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(WaitingUndeclared(), 1u);
  auto any = test::OpenWorker(queue_);
  ASSERT_NE(any, nullptr);
  std::set<uint64_t> rest;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(any->Take(&job, 5000));
    rest.insert(job.id());
    ASSERT_OK(any->Complete(job));
  }
  EXPECT_EQ(rest, (std::set<uint64_t>{email, plain}));
}

TEST_F(JobOptionsTest, RunRoutesByTypeAndNeverFailsAnotherWorkersJob) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(prod->Enqueue("a", nullptr, Typed("a")));
    ASSERT_OK(prod->Enqueue("b", nullptr, Typed("b")));
    ASSERT_OK(prod->Enqueue("c", nullptr, Typed("c")));  // nobody routes c
  }
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  std::atomic<int> a{0}, b{0};
  Worker::Handlers handlers;
  handlers["a"] = [&](const Job& j) {
    EXPECT_EQ(j.type(), "a");
    ++a;
    return Status::OK();
  };
  handlers["b"] = [&](const Job& j) {
    EXPECT_EQ(j.type(), "b");
    ++b;
    return Status::OK();
  };
  RunOptions ro;
  ro.idle_exit_ms = 500;
  ASSERT_OK(worker->Run(handlers, ro));
  EXPECT_EQ(a.load(), 5);
  EXPECT_EQ(b.load(), 5);
  EXPECT_EQ(Counter(segment::Counter::kFailed), 0u);
  EXPECT_EQ(Counter(segment::Counter::kCompleted), 10u);
  // The c jobs are still there for a worker that handles them.
  Worker::Handlers only_c;
  std::atomic<int> c{0};
  only_c["c"] = [&](const Job&) {
    ++c;
    return Status::OK();
  };
  ASSERT_OK(worker->Run(only_c, ro));
  EXPECT_EQ(c.load(), 5);
}

TEST_F(JobOptionsTest, RunAtHoldsAJobUntilItsTime) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueOptions o;
  o.run_at_unix_ns = util::NowUnixNs() + 400'000'000;
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("later", &id, o));
  JobStatus st;
  ASSERT_OK(prod->GetStatus(id, &st));
  EXPECT_EQ(st.state, JobState::kDelayed);
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  EXPECT_TRUE(worker->Take(&job, 150).IsTimedOut());
  ASSERT_OK(worker->Take(&job, 5000));
  EXPECT_EQ(job.id(), id);
  EXPECT_GE(util::NowUnixNs(), o.run_at_unix_ns);
  ASSERT_OK(worker->Complete(job));
}

TEST_F(JobOptionsTest, AHungHandlerTimesOutAndItsAttemptFails) {
  test::Daemon d(queue_, tmp_.path() + "/wal",
                 {"--lease-ms", "600", "--retry-backoff-ms", "0", "--max-attempts", "2"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueOptions o;
  o.timeout_ms = 300;
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("slow", &id, o));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  std::atomic<int> runs{0}, saw_cancel{0};
  RunOptions ro;
  ro.max_jobs = 2;
  ro.idle_exit_ms = 3000;
  // Heartbeats would keep the lease forever; the timeout must end it anyway. The handler
  // watches cancel_requested() as a well-behaved one does.
  ASSERT_OK(worker->Run(
      [&](const Job& j) {
        ++runs;
        const auto start = std::chrono::steady_clock::now();
        while (!j.cancel_requested() &&
               std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        saw_cancel += j.cancel_requested() ? 1 : 0;
        return Status::OK();  // says OK, but too late: the attempt fails
      },
      ro));
  EXPECT_EQ(runs.load(), 2);
  EXPECT_EQ(saw_cancel.load(), 2);
  JobStatus st;
  for (int i = 0; i < 500; ++i) {  // the last Fail is on its way to the daemon
    ASSERT_OK(prod->GetStatus(id, &st));
    if (st.state == JobState::kDead) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(st.state, JobState::kDead) << JobStateName(st.state);
  EXPECT_EQ(Counter(segment::Counter::kCompleted), 0u);
}

TEST_F(JobOptionsTest, TheDaemonRevokesARunPastItsTimeoutDespiteHeartbeats) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--lease-ms", "3000"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueOptions o;
  o.timeout_ms = 200;
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("x", &id, o));
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  // A client that ignores the timeout and keeps touching (Touch refuses after the deadline,
  // so this is what a misbehaving client looks like at most).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until && Counter(segment::Counter::kTimeouts) == 0) {
    (void)worker->Touch(job);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Counter(segment::Counter::kTimeouts), 1u);
  EXPECT_TRUE(worker->Complete(job).IsStaleLease());
  ASSERT_OK(worker->Take(&job, 5000));  // handed out again
  EXPECT_EQ(job.id(), id);
  EXPECT_EQ(job.attempt(), 2u);
  ASSERT_OK(worker->Complete(job));
}

TEST_F(JobOptionsTest, BadOptionsAreRefusedWithAMessageAndCreateNothing) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  auto refused = [&](const EnqueueOptions& o, const char* words) {
    uint64_t id = 0;
    Status s = prod->Enqueue("x", &id, o);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.ToString().find(words), std::string::npos) << s.ToString();
  };
  EnqueueOptions o;
  o.priority = 10;
  refused(o, "priority");
  o = {};
  o.priority = -1;
  refused(o, "priority");
  o = {};
  o.type = "has space";
  refused(o, "job type");
  o = {};
  o.type = std::string(65, 't');
  refused(o, "longer than 64");
  o = {};
  o.headers = {{"bad name", "v"}};
  refused(o, "header name");
  o = {};
  o.headers = {{"n", "line\nbreak"}};
  refused(o, "control");
  o = {};
  o.headers.assign(17, {"n", "v"});
  refused(o, "headers");
  o = {};
  o.idempotency_key = "with space";
  refused(o, "idempotency key");
  o = {};
  o.delay_ms = 10;
  o.run_at_unix_ns = util::NowUnixNs();
  refused(o, "not both");
  o = {};
  o.headers.assign(16, {std::string(60, 'h'), std::string(200, 'v')});
  refused(o, "more than 1024");
  // The meta shares the payload's room in the slot.
  o = {};
  o.type = "abc";  // 6 bytes encoded
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue(std::string(prod->max_payload() - 6, 'p'), &id, o));
  Status s = prod->Enqueue(std::string(prod->max_payload() - 5, 'p'), &id, o);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.ToString().find("6 bytes of type, key and headers"), std::string::npos)
      << s.ToString();
  std::vector<std::string_view> two = {"a", "b"};
  std::vector<EnqueueResult> results(2);
  o = {};
  o.idempotency_key = "k";
  EXPECT_TRUE(prod->EnqueueBatch(two, results, o).IsInvalidArgument());
  EXPECT_EQ(Counter(segment::Counter::kAccepted), 1u) << "only the job that fit";
}

}  // namespace
}  // namespace taskring
