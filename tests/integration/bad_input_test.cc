// Bad input through the library: a clear error, nothing lost, nothing consumed.
#include <gtest/gtest.h>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

class BadInputTest : public ::testing::Test {
 protected:
  std::unique_ptr<Producer> OpenProducer() { return test::OpenProducer(queue_); }
  std::string queue_ = test::UniqueQueueName("bad");
  test::TempDir tmp_;
};

TEST_F(BadInputTest, OversizedPayloadIsRefusedWithoutTakingAPlace) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "2", "--max-payload", "16"});
  ASSERT_TRUE(d.Start());
  auto p = OpenProducer();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->max_payload(), 16u);
  uint64_t id = 0;
  for (int i = 0; i < 5; ++i) {
    const Status s = p->Enqueue(std::string(17, 'x'), &id);
    ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_NE(s.ToString().find("17 bytes exceeds the queue's max payload of 16"),
              std::string::npos);
  }
  EXPECT_OK(p->Enqueue(std::string(16, 'x'), &id));
  EXPECT_OK(p->Enqueue("", &id)) << "empty payloads are jobs too";
  EXPECT_TRUE(p->Enqueue("y", &id).IsBusy()) << "both places were still free for real jobs";
}

TEST_F(BadInputTest, BatchReportsEachItemAndKeepsTheGoodOnes) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "2", "--max-payload", "4"});
  ASSERT_TRUE(d.Start());
  auto p = OpenProducer();
  ASSERT_NE(p, nullptr);
  std::vector<std::string_view> items = {"ok", "too long", "ok2", "full"};
  std::vector<EnqueueResult> results(items.size());
  ASSERT_OK(p->EnqueueBatch(items, results));
  EXPECT_OK(results[0].status);
  EXPECT_TRUE(results[1].status.IsInvalidArgument());
  EXPECT_OK(results[2].status);
  EXPECT_TRUE(results[3].status.IsBusy());
  EXPECT_LT(results[0].job_id, results[2].job_id);
  std::vector<EnqueueResult> short_results(1);
  EXPECT_TRUE(p->EnqueueBatch(items, short_results).IsInvalidArgument());
}

TEST_F(BadInputTest, NoDaemonMeansNotFoundForProducersAndWorkers) {
  std::unique_ptr<Producer> p;
  ProducerOptions po;
  po.queue = queue_;
  const Status s = Producer::Open(po, &p);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  std::unique_ptr<Worker> w;
  WorkerOptions wo;
  wo.queue = queue_;
  EXPECT_TRUE(Worker::Open(wo, &w).IsNotFound());
  po.queue = "no/slashes";
  EXPECT_TRUE(Producer::Open(po, &p).IsInvalidArgument());
}

TEST_F(BadInputTest, StoppedDaemonIsClosedNotBusy) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto p = OpenProducer();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(d.Stop(), 0);
  uint64_t id = 0;
  const Status s = p->Enqueue("late", &id);
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
  WorkerOptions wo;
  wo.queue = queue_;
  std::unique_ptr<Worker> w;
  EXPECT_TRUE(Worker::Open(wo, &w).IsNotFound()) << "a clean stop removes the segment";
}

TEST_F(BadInputTest, CorruptSegmentIsRefusedByClients) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  {
    std::unique_ptr<segment::Segment> seg;
    ASSERT_OK(segment::Segment::Attach(queue_, false, &seg));
    seg->header()->layout.slots_offset += 4096;  // a scribbler moved a region
  }
  ProducerOptions po;
  po.queue = queue_;
  std::unique_ptr<Producer> p;
  const Status s = Producer::Open(po, &p);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find(queue_), std::string::npos) << "the error names the queue";
}

}  // namespace
}  // namespace taskring
