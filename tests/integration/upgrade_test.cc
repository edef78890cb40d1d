// A WAL written by the release before a change still replays after it: users upgrade with jobs
// in their queues. The fixture and how it was made: tests/wal/fixtures/README.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

TEST(UpgradeTest, AWalFromBeforeIssue11IsRecoveredWhole) {
  test::TempDir tmp;
  const std::string wal = tmp.path() + "/wal";
  std::filesystem::create_directories(wal);
  std::filesystem::permissions(wal, std::filesystem::perms::owner_all);
  std::filesystem::copy(
      std::string(TASKRING_SOURCE_DIR) + "/tests/wal/fixtures/wal-before-issue-11", wal);
  const std::string queue = test::UniqueQueueName("upgrade");
  test::Daemon d(queue, wal);
  ASSERT_TRUE(d.Start());
  EXPECT_NE(d.Log().find("recovered 3 unfinished job(s)"), std::string::npos) << d.Log();
  auto w = test::OpenWorker(queue);
  ASSERT_NE(w, nullptr);
  std::multiset<std::string> got;
  Job job;
  while (w->Take(&job, 500).ok()) {
    got.insert(std::string(job.payload()));
    ASSERT_OK(w->Complete(job));
  }
  EXPECT_EQ(got, (std::multiset<std::string>{"first job", "second job",
                                             "third job with a longer payload"}));
}

}  // namespace
}  // namespace taskring
