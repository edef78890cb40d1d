// A process that dies in the middle of taking a slot or a job (after the pop, before the claim)
// must cost the queue nothing: the daemon offers the slot or the job again. The tests play the
// dying process by doing exactly that half-operation on the mapped segment.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

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
  // Moves the dispatch ring's head by one without releasing the cell, as a worker killed
  // mid-pop.
  void AbandonOnePop() {
    std::unique_ptr<segment::Segment> seg;
    ASSERT_OK(segment::Segment::Attach(queue_, false, &seg));
    seg->dispatch_ring(taskring::kDefaultPriority).header()->head.fetch_add(1);
  }
  std::string queue_ = test::UniqueQueueName("repair");
  test::TempDir tmp_;
};

// A producer killed between popping a free slot and claiming it: the daemon finds the slot named
// in the dead producer's entry and offers it again, so the queue keeps its whole capacity.
TEST_F(RepairTest, ProducerDeadBetweenPopAndClaimCostsNoCapacity) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "4", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto p = test::OpenProducer(queue_);
    std::unique_ptr<segment::Segment> seg;
    if (!p || !segment::Segment::Attach(queue_, false, &seg).ok()) ::_exit(2);
    for (uint32_t i = 0; i < seg->params().max_clients; ++i) {
      segment::ClientEntry* e = seg->client(i);
      if (segment::OwnerPid(e->owner.load()) != ::getpid()) continue;
      uint64_t ref = 0;
      ::_exit(seg->free_stack().Pop(&e->popping, &ref) ? 0 : 3);  // dies before the claim
    }
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  auto p = test::OpenProducer(queue_);
  int accepted = 0;
  for (int i = 0; i < 500 && accepted < 4; ++i) {  // until the daemon has seen the death
    uint64_t id = 0;
    const Status s = p->Enqueue("fill", &id);
    if (s.ok()) {
      ++accepted;
    } else {
      ASSERT_TRUE(s.IsBusy()) << s.ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(accepted, 4) << d.Log();
  uint64_t id = 0;
  EXPECT_TRUE(p->Enqueue("fifth", &id).IsBusy()) << "and no more than the capacity";
  EXPECT_NE(d.Log().find("died; 0 job(s) it held handed out again or dead-lettered, 1 unaccepted "
                         "dropped"),
            std::string::npos)
      << d.Log();
}

TEST_F(RepairTest, JobInACellOfAWorkerDeadMidTakeIsHandedOutAgain) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "4", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  uint64_t lost_id = 0;
  ASSERT_OK(p->Enqueue("taken by a dying worker", &lost_id));
  ASSERT_NO_FATAL_FAILURE(AbandonOnePop());
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
