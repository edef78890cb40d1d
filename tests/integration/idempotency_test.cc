// Idempotency keys with a real daemon: a repeat answers the first job's id and creates
// nothing, whatever that job's state; racing producers get one job; the key survives a clean
// restart, a SIGKILL between log and answer, and the deletion of the WAL segments that logged
// it; the window ends.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "io/env.h"
#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"
#include "wal/wal_segment.h"

namespace taskring {
namespace {

class IdempotencyTest : public ::testing::Test {
 protected:
  uint64_t Counter(segment::Counter c) {
    std::unique_ptr<segment::Segment> seg;
    EXPECT_OK(segment::Segment::Attach(queue_, true, &seg));
    return seg ? seg->Read(c) : 0;
  }
  static EnqueueOptions Keyed(const std::string& key) {
    EnqueueOptions o;
    o.idempotency_key = key;
    return o;
  }
  std::string queue_ = test::UniqueQueueName("idem");
  test::TempDir tmp_;
};

TEST_F(IdempotencyTest, ARepeatedKeyAnswersTheFirstIdWhateverItsState) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueResult first, again;
  ASSERT_OK(prod->Enqueue("one", Keyed("order-17"), &first));
  EXPECT_FALSE(first.duplicate);
  ASSERT_OK(prod->Enqueue("two", Keyed("order-17"), &again));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.job_id, first.job_id);
  uint64_t other = 0;
  ASSERT_OK(prod->Enqueue("three", &other, Keyed("order-18")));
  EXPECT_NE(other, first.job_id);
  // Completed: still a duplicate.
  auto worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  for (int i = 0; i < 2; ++i) {
    Job job;
    ASSERT_OK(worker->Take(&job, 5000));
    EXPECT_NE(job.payload(), "two");
    ASSERT_OK(worker->Complete(job));
  }
  ASSERT_OK(prod->Enqueue("four", Keyed("order-17"), &again));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.job_id, first.job_id);
  Job job;
  EXPECT_TRUE(worker->Take(&job, 200).IsTimedOut());
  EXPECT_EQ(Counter(segment::Counter::kAccepted), 2u);
  EXPECT_EQ(Counter(segment::Counter::kDedupHits), 2u);
}

// EnqueueBatch of items (what `taskring bridge` uses): each keyed item is answered on its own,
// even in a batch longer than the lane, where the items are sent in lane-sized parts.
TEST_F(IdempotencyTest, AKeyedBatchAnswersEachItemLikeEnqueue) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--lane-capacity", "8", "--capacity", "64"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueResult seen;
  ASSERT_OK(prod->Enqueue("earlier", Keyed("m-3"), &seen));
  // 20 items: keys m-0..m-9 twice over (the second half repeats the first), m-3 seen before,
  // and a bad key in the middle refused alone.
  std::vector<EnqueueOptions> options(20);
  std::vector<std::string> payloads(20);
  std::vector<EnqueueItem> items(20);
  for (size_t i = 0; i < items.size(); ++i) {
    options[i] = Keyed("m-" + std::to_string(i % 10));
    payloads[i] = "p" + std::to_string(i);
    items[i] = {payloads[i], &options[i]};
  }
  options[5].idempotency_key = "bad key";
  std::vector<EnqueueResult> results(items.size());
  ASSERT_OK(prod->EnqueueBatch(items, results));
  EXPECT_TRUE(results[5].status.IsInvalidArgument()) << results[5].status.ToString();
  EXPECT_OK(results[15].status);
  EXPECT_FALSE(results[15].duplicate) << "m-5 was never accepted before";
  for (size_t i = 0; i < 10; ++i) {
    if (i == 5) continue;
    ASSERT_OK(results[i].status);
    ASSERT_OK(results[i + 10].status);
    EXPECT_EQ(results[i].duplicate, i == 3) << i;
    EXPECT_TRUE(results[i + 10].duplicate) << i + 10;
    EXPECT_EQ(results[i + 10].job_id, results[i].job_id) << i + 10;
    EXPECT_EQ(results[i + 10].token.ToString(), results[i].token.ToString()) << i + 10;
  }
  EXPECT_EQ(results[3].job_id, seen.job_id);
  EXPECT_EQ(Counter(segment::Counter::kDedupHits), 10u);
  // Ten jobs exist: the earlier one and m-0..m-9 but m-3; no duplicate reached a worker.
  auto worker = test::OpenWorker(queue_);
  std::set<std::string> taken;
  Job job;
  while (worker->Take(&job, 300).ok()) {
    taken.insert(std::string(job.payload()));
    ASSERT_OK(worker->Complete(job));
  }
  EXPECT_EQ(taken, (std::set<std::string>{"earlier", "p0", "p1", "p2", "p4", "p6", "p7", "p8", "p9",
                                          "p15"}));
}

TEST_F(IdempotencyTest, RacingProducersWithOneKeyGetOneJob) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  constexpr int kProcs = 6, kKeys = 40;
  int pipes[kProcs][2];
  std::vector<pid_t> children;
  std::fflush(nullptr);
  for (int p = 0; p < kProcs; ++p) {
    ASSERT_EQ(::pipe(pipes[p]), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto prod = test::OpenProducer(queue_);
      if (!prod) _exit(10);
      for (int k = 0; k < kKeys; ++k) {
        uint64_t id = 0;
        if (!prod->Enqueue("p" + std::to_string(p), &id, Keyed("k" + std::to_string(k))).ok()) {
          _exit(11);
        }
        if (::write(pipes[p][1], &id, sizeof id) != sizeof id) _exit(12);
      }
      _exit(0);
    }
    ::close(pipes[p][1]);
    children.push_back(pid);
  }
  std::vector<std::vector<uint64_t>> ids(kProcs);
  for (int p = 0; p < kProcs; ++p) {
    uint64_t id = 0;
    while (::read(pipes[p][0], &id, sizeof id) == sizeof id) ids[p].push_back(id);
    ::close(pipes[p][0]);
  }
  for (pid_t pid : children) EXPECT_EQ(test::WaitChild(pid), 0);
  for (int k = 0; k < kKeys; ++k) {
    for (int p = 0; p < kProcs; ++p) {
      ASSERT_EQ(ids[p].size(), static_cast<size_t>(kKeys));
      EXPECT_EQ(ids[p][k], ids[0][k]) << "key " << k << " producer " << p;
    }
  }
  EXPECT_EQ(Counter(segment::Counter::kAccepted), static_cast<uint64_t>(kKeys));
  EXPECT_EQ(Counter(segment::Counter::kDedupHits), static_cast<uint64_t>(kKeys * (kProcs - 1)));
}

TEST_F(IdempotencyTest, AKeySurvivesARestartACrashAndTheDeletionOfItsWalSegments) {
  const std::string wal = tmp_.path() + "/wal";
  uint64_t first = 0, second = 0;
  {
    test::Daemon d(queue_, wal, {"--wal-segment-mb", "1", "--max-payload", "65536"});
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    ASSERT_OK(prod->Enqueue("a", &first, Keyed("clean")));
    ASSERT_EQ(d.Stop(), 0);
  }
  {
    test::Daemon d(queue_, wal, {"--wal-segment-mb", "1", "--max-payload", "65536"});
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    EnqueueResult r;
    ASSERT_OK(prod->Enqueue("a again", Keyed("clean"), &r));
    EXPECT_TRUE(r.duplicate);
    EXPECT_EQ(r.job_id, first);
    ASSERT_OK(prod->Enqueue("b", &second, Keyed("crash")));
    d.Kill();  // SIGKILL: the key is only in the WAL
  }
  {
    test::Daemon d(queue_, wal, {"--wal-segment-mb", "1", "--max-payload", "65536"});
    ASSERT_TRUE(d.Start());
    auto prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    EnqueueResult r;
    ASSERT_OK(prod->Enqueue("b again", Keyed("crash"), &r));
    EXPECT_TRUE(r.duplicate);
    EXPECT_EQ(r.job_id, second);
    // Finish both jobs and push enough through the WAL that its old segments are deleted.
    auto worker = test::OpenWorker(queue_);
    ASSERT_NE(worker, nullptr);
    const std::string filler(60000, 'f');
    for (int i = 0; i < 60; ++i) ASSERT_OK(prod->Enqueue(filler, nullptr));
    RunOptions ro;
    ro.idle_exit_ms = 300;
    ASSERT_OK(worker->Run([](const Job&) { return Status::OK(); }, ro));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a collection pass
    ASSERT_OK(prod->Enqueue(filler, nullptr));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    d.Kill();
  }
  io::FileStat st;
  EXPECT_OK(io::Env::Default()->Stat(wal + "/keys", &st));
  EXPECT_TRUE(io::Env::Default()->Stat(wal::SegmentPath(wal, 1), &st).IsNotFound())
      << "the first segment, which logged both keys, should have been deleted";
  test::Daemon d(queue_, wal, {"--wal-segment-mb", "1", "--max-payload", "65536"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueResult r;
  ASSERT_OK(prod->Enqueue("x", Keyed("clean"), &r));
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.job_id, first);
  ASSERT_OK(prod->Enqueue("y", Keyed("crash"), &r));
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.job_id, second);
}

TEST_F(IdempotencyTest, AKeyIsForgottenAfterItsWindow) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--dedup-window", "300ms"});
  ASSERT_TRUE(d.Start());
  auto prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  EnqueueResult a, b;
  ASSERT_OK(prod->Enqueue("a", Keyed("k"), &a));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_OK(prod->Enqueue("b", Keyed("k"), &b));
  EXPECT_FALSE(b.duplicate);
  EXPECT_NE(a.job_id, b.job_id);
}

}  // namespace
}  // namespace taskring
