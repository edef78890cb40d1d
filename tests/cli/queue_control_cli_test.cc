// `taskring queue pause | resume | purge` against a real taskringd: a paused queue accepts jobs
// and hands out none until resumed; purge cancels what is queued, and wants --yes off a terminal.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace taskring {
namespace {

using test::CommandResult;
using test::Daemon;
using test::RunCommand;

std::string Cli() { return test::BinDir() + "/taskring"; }

class QueueControlTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("qctl");
  test::TempDir tmp_;
  std::string wal() const { return tmp_.path() + "/wal"; }

  CommandResult Queue(const std::string& sub, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {Cli(), "queue", sub, "--queue", queue_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }
  // The job ids `taskring enqueue` answered for `input`.
  std::vector<uint64_t> Enqueue(const std::string& input) {
    const CommandResult r = RunCommand({Cli(), "enqueue", "--queue", queue_}, input);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<uint64_t> ids;
    std::istringstream in(r.out);
    for (std::string word, id; in >> word >> id;) ids.push_back(std::stoull(id));
    return ids;
  }
  // What `taskring worker --print` takes before it has been idle for a second.
  std::string Take() {
    const CommandResult r =
        RunCommand({Cli(), "worker", "--queue", queue_, "--print", "--idle-exit", "1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  nlohmann::json ListRow() {
    const CommandResult r = RunCommand({Cli(), "queue", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const auto& row : nlohmann::json::parse(r.out)) {
      if (row["queue"] == queue_) return row;
    }
    ADD_FAILURE() << queue_ << " not listed:\n" << r.out;
    return {};
  }
};

TEST_F(QueueControlTest, PauseStopsHandOutUntilResume) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const CommandResult p = Queue("pause");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(p.out, "paused\n");
  EXPECT_EQ(ListRow()["paused"], true);
  EXPECT_EQ(test::StatsCounter(queue_, "paused"), 1u);

  ASSERT_EQ(Enqueue("while-paused\n").size(), 1u) << "a paused queue still accepts jobs";
  EXPECT_EQ(Take(), "") << "a paused queue hands out nothing";

  const CommandResult r = Queue("resume");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "resumed\n");
  EXPECT_EQ(ListRow()["paused"], false);
  EXPECT_EQ(test::StatsCounter(queue_, "paused"), 0u);
  EXPECT_EQ(Take(), "while-paused\n");
}

TEST_F(QueueControlTest, PurgeWithYesCancelsTheQueuedJobsAndPrintsTheCount) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const std::vector<uint64_t> ids = Enqueue("a\nb\nc\n");
  ASSERT_EQ(ids.size(), 3u);

  // stdin is a pipe here (not a terminal): no one to ask, so no purge without --yes.
  const CommandResult refused = Queue("purge");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("without --yes"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out, "");

  const CommandResult r = Queue("purge", {"--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "purged 3 job(s) cancelled\n");
  std::unique_ptr<Producer> p = test::OpenProducer(queue_);
  ASSERT_NE(p, nullptr);
  for (uint64_t id : ids) {
    JobStatus st;
    ASSERT_OK(p->GetStatus(id, &st));
    EXPECT_EQ(st.state, JobState::kCancelled) << id << " " << JobStateName(st.state);
  }
  EXPECT_EQ(Take(), "") << "cancelled jobs never run";
  EXPECT_EQ(Queue("purge", {"--yes"}).out, "purged 0 job(s) cancelled\n");
}

TEST_F(QueueControlTest, WrongUseIsExitTwoAndNoDaemonIsExitOne) {
  EXPECT_EQ(RunCommand({Cli(), "queue", "pause"}).exit_code, 2) << "--queue is required";
  EXPECT_EQ(Queue("pause", {"--force"}).exit_code, 2);
  const CommandResult none = Queue("resume");
  EXPECT_EQ(none.exit_code, 1) << "no daemon for the queue";
  EXPECT_NE(none.err.find("taskring queue resume: "), std::string::npos) << none.err;
  const CommandResult help = RunCommand({Cli(), "queue", "--help"});
  for (const char* word : {"pause", "resume", "purge", "--yes"}) {
    EXPECT_NE(help.out.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace taskring
