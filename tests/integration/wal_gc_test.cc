// Bounded WAL: disk use follows live jobs, not history.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

struct WalUsage {
  size_t files = 0;
  uintmax_t bytes = 0;
};

WalUsage Usage(const std::string& dir) {
  WalUsage u;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".log") continue;
    ++u.files;
    u.bytes += e.file_size();
  }
  return u;
}

class WalGcTest : public ::testing::Test {
 protected:
  // Pushes `n` jobs of ~1 KiB through the queue: enqueue and complete.
  void Churn(Producer& p, Worker& w, int n) {
    const std::string payload(1000, 'x');
    for (int i = 0; i < n; i += 100) {
      std::vector<std::string_view> views(100, payload);
      std::vector<EnqueueResult> results(views.size());
      ASSERT_OK(p.EnqueueBatch(views, results));
      for (int k = 0; k < 100; ++k) {
        Job job;
        ASSERT_OK(w.Take(&job, 5000));
        ASSERT_OK(w.Complete(job));
      }
    }
  }
  std::string queue_ = test::UniqueQueueName("walgc");
  test::TempDir tmp_;
};

TEST_F(WalGcTest, SegmentsOfFinishedJobsAreDeleted) {
  const std::string wal = tmp_.path() + "/wal";
  test::Daemon d(queue_, wal, {"--wal-segment-mb", "1", "--capacity", "1000"});
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  auto w = test::OpenWorker(queue_);
  ASSERT_NO_FATAL_FAILURE(Churn(*p, *w, 10000));                // ~10 MiB of history
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // completions reach the WAL
  ASSERT_NO_FATAL_FAILURE(Churn(*p, *w, 1000));
  const WalUsage u = Usage(wal);
  EXPECT_LE(u.files, 3u) << "history is not kept";
  EXPECT_LT(u.bytes, 3u << 20);
}

TEST_F(WalGcTest, LongDelayedJobIsReloggedForwardAndSurvivesARestart) {
  const std::string wal = tmp_.path() + "/wal";
  uint64_t delayed_id = 0;
  {
    test::Daemon d(queue_, wal, {"--wal-segment-mb", "1", "--capacity", "1000"});
    ASSERT_TRUE(d.Start());
    auto p = test::OpenProducer(queue_);
    auto w = test::OpenWorker(queue_);
    EnqueueOptions later;
    later.delay_ms = 3'600'000;  // an hour: it would pin the first segment for that long
    ASSERT_OK(p->Enqueue("see you in an hour", &delayed_id, later));
    for (int round = 0; round < 6; ++round) {
      ASSERT_NO_FATAL_FAILURE(Churn(*p, *w, 2000));
      std::this_thread::sleep_for(std::chrono::milliseconds(400));  // re-log runs once a second
    }
    // The re-log runs once a second: on a loaded machine (sanitizers, parallel tests) the last
    // round's segments may still be waiting for it, so give it a few more rounds.
    for (int i = 0; i < 100 && Usage(wal).files > 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_LE(Usage(wal).files, 4u) << "the delayed job must not pin old segments";
    EXPECT_NE(d.Log().find("re-logged 1 live job(s)"), std::string::npos) << d.Log();
    EXPECT_EQ(d.Stop(), 0);
  }
  test::Daemon d(queue_, wal, {"--wal-segment-mb", "1", "--capacity", "1000"});
  ASSERT_TRUE(d.Start());
  EXPECT_NE(d.Log().find("recovered 1 unfinished job(s)"), std::string::npos) << d.Log();
  auto p = test::OpenProducer(queue_);
  JobStatus st;
  ASSERT_OK(p->GetStatus(delayed_id, &st));
  EXPECT_EQ(st.state, JobState::kDelayed);
}

}  // namespace
}  // namespace taskring
