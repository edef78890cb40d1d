// Queue operations with a real daemon: pause stops hand-out without refusing jobs and survives
// a restart; resume hands out again; purge cancels queued and delayed jobs, durably.
#include "taskring/queue_control.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

class QueueControlTest : public ::testing::Test {
 protected:
  std::unique_ptr<QueueControl> OpenControl() {
    ProducerOptions o;
    o.queue = queue_;
    std::unique_ptr<QueueControl> c;
    EXPECT_OK(QueueControl::Open(o, &c));
    return c;
  }
  uint64_t Counter(segment::Counter c) {
    std::unique_ptr<segment::Segment> seg;
    EXPECT_OK(segment::Segment::Attach(queue_, true, &seg));
    return seg ? seg->Read(c) : 0;
  }
  std::string queue_ = test::UniqueQueueName("qctl");
  test::TempDir tmp_;
};

TEST_F(QueueControlTest, PauseHoldsJobsAcceptsNewOnesAndSurvivesARestart) {
  const std::string wal = tmp_.path() + "/wal";
  uint64_t before = 0, during = 0;
  {
    test::Daemon d(queue_, wal);
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    ASSERT_OK(prod->Enqueue("before", &before));  // in the dispatch ring when the pause comes
    auto ctl = OpenControl();
    ASSERT_NE(ctl, nullptr);
    ASSERT_OK(ctl->Pause());
    EXPECT_TRUE(ctl->paused());
    ASSERT_OK(prod->Enqueue("during", &during));  // accepted while paused
    auto worker = test::OpenWorker(queue_);
    ASSERT_NE(worker, nullptr);
    Job job;
    EXPECT_TRUE(worker->Take(&job, 300).IsTimedOut()) << "took job " << job.id();
    worker.reset();
    ASSERT_EQ(d.Stop(), 0);
  }
  test::Daemon d(queue_, wal);
  ASSERT_TRUE(d.Start());
  auto ctl = OpenControl();
  ASSERT_NE(ctl, nullptr);
  EXPECT_TRUE(ctl->paused()) << "a restart must not resume a paused queue";
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  EXPECT_TRUE(worker->Take(&job, 300).IsTimedOut());
  ASSERT_OK(ctl->Resume());
  EXPECT_FALSE(ctl->paused());
  std::set<uint64_t> taken;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(worker->Take(&job, 5000));
    taken.insert(job.id());
    ASSERT_OK(worker->Complete(job));
  }
  EXPECT_EQ(taken, (std::set<uint64_t>{before, during}));
}

TEST_F(QueueControlTest, PurgeCancelsQueuedAndDelayedJobsButNotRunningOnes) {
  const std::string wal = tmp_.path() + "/wal";
  uint64_t running = 0;
  std::vector<uint64_t> cancelled;
  {
    test::Daemon d(queue_, wal);
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    ASSERT_OK(prod->Enqueue("runs", &running));
    auto worker = test::OpenWorker(queue_);
    ASSERT_NE(worker, nullptr);
    Job job;
    ASSERT_OK(worker->Take(&job, 5000));
    ASSERT_EQ(job.id(), running);
    for (int i = 0; i < 5; ++i) {
      uint64_t id = 0;
      EnqueueOptions o;
      o.priority = i;
      if (i == 4) o.delay_ms = 60000;
      ASSERT_OK(prod->Enqueue("queued", &id, o));
      cancelled.push_back(id);
    }
    auto ctl = OpenControl();
    ASSERT_NE(ctl, nullptr);
    uint64_t n = 0;
    ASSERT_OK(ctl->Purge(&n));
    EXPECT_EQ(n, 5u);
    for (uint64_t id : cancelled) {
      JobStatus st;
      ASSERT_OK(prod->GetStatus(id, &st));
      EXPECT_EQ(st.state, JobState::kCancelled) << id;
    }
    EXPECT_EQ(Counter(segment::Counter::kCancelled), 5u);
    ASSERT_OK(worker->Complete(job));  // the running one was left alone
    JobStatus st;
    for (int i = 0; i < 500; ++i) {  // the outcome is on its way to the daemon
      ASSERT_OK(prod->GetStatus(running, &st));
      if (st.state == JobState::kCompleted) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(st.state, JobState::kCompleted);
    EXPECT_TRUE(worker->Take(&job, 200).IsTimedOut());
    d.Kill();  // the CANCEL records must already be durable
  }
  test::Daemon d(queue_, wal);
  ASSERT_TRUE(d.Start());
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  EXPECT_TRUE(worker->Take(&job, 300).IsTimedOut()) << "cancelled job " << job.id() << " came back";
}

}  // namespace
}  // namespace taskring
