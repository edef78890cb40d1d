// A process that dies in the middle of a ring operation (after moving the ring's head, before
// releasing the cell) must not wedge the queue: the daemon repairs the cell within its repair
// timeout. The test plays the dying process by doing exactly that half-operation on the mapped
// segment.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

class RepairTest : public ::testing::Test {
 protected:
  // Moves the ring's head by one without releasing the cell, as a consumer killed mid-pop.
  void AbandonOnePop(bool dispatch) {
    std::unique_ptr<segment::Segment> seg;
    ASSERT_OK(segment::Segment::Attach(queue_, false, &seg));
    segment::RingView ring = dispatch ? seg->dispatch_ring() : seg->free_ring();
    ring.header()->head.fetch_add(1);
  }
  std::string queue_ = test::UniqueQueueName("repair");
  test::TempDir tmp_;
};

TEST_F(RepairTest, ProducerDeadInTheFreeRingCostsNoCapacityForGood) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "4", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  ASSERT_NO_FATAL_FAILURE(AbandonOnePop(/*dispatch=*/false));
  auto p = test::OpenProducer(queue_);
  auto w = test::OpenWorker(queue_);
  // Keep the queue moving so the daemon wraps around onto the abandoned cell. Until the repair
  // (1 s) the places stuck behind it answer BUSY: wait them out.
  for (int i = 0; i < 12; ++i) {
    uint64_t id = 0;
    Status s;
    for (int t = 0; t < 1000 && (s = p->Enqueue("x", &id)).IsBusy(); ++t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_OK(s);
    Job job;
    ASSERT_OK(w->Take(&job, 5000));
    ASSERT_OK(w->Complete(job));
  }
  // After the repair timeout (1 s) every place is usable again.
  int accepted = 0;
  for (int i = 0; i < 1000 && accepted < 4; ++i) {
    uint64_t id = 0;
    const Status s = p->Enqueue("fill", &id);
    if (s.ok()) {
      ++accepted;
    } else {
      ASSERT_TRUE(s.IsBusy()) << s.ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(accepted, 4);
  uint64_t id = 0;
  EXPECT_TRUE(p->Enqueue("fifth", &id).IsBusy()) << "and no more than the capacity";
  EXPECT_NE(d.Log().find("repaired a free-ring cell"), std::string::npos) << d.Log();
}

TEST_F(RepairTest, JobInACellOfAWorkerDeadMidTakeIsHandedOutAgain) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "4", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  uint64_t lost_id = 0;
  ASSERT_OK(p->Enqueue("taken by a dying worker", &lost_id));
  ASSERT_NO_FATAL_FAILURE(AbandonOnePop(/*dispatch=*/true));
  auto w = test::OpenWorker(queue_);
  std::set<std::string> seen;
  Job job;
  // Other jobs flow; once the daemon wraps onto the abandoned cell, it repairs it and the job
  // comes back, with the attempt number it never got to use.
  for (int i = 0; i < 12; ++i) {
    uint64_t id = 0;
    ASSERT_OK(p->Enqueue("job" + std::to_string(i), &id));
    ASSERT_OK(w->Take(&job, 5000));
    seen.insert(std::string(job.payload()));
    ASSERT_OK(w->Complete(job));
  }
  bool found = seen.count("taken by a dying worker") != 0;
  while (!found && w->Take(&job, 3000).ok()) {
    found = job.id() == lost_id;
    if (found) {
      EXPECT_GE(job.attempt(), 1u);
    }
    ASSERT_OK(w->Complete(job));
  }
  EXPECT_TRUE(found) << d.Log();
  EXPECT_NE(d.Log().find("repaired a dispatch-ring cell"), std::string::npos) << d.Log();
}

}  // namespace
}  // namespace taskring
