// `taskring job show | result | cancel | wait` against a real taskringd, with jobs run by
// `taskring worker --exec`: the command's stdout is the result, its stderr the error, its
// progress lines the job's progress; and what is readable once the daemon is gone.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace taskring {
namespace {

using test::CommandResult;
using test::Daemon;
using test::RunCommand;

std::string Cli() { return test::BinDir() + "/taskring"; }

class JobCliTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("jobcli");
  test::TempDir tmp_;
  std::string wal() const { return tmp_.path() + "/wal"; }

  std::vector<std::string> Ids(const std::string& input, std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {Cli(), "enqueue", "--queue", queue_};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const CommandResult r = RunCommand(argv, input);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> ids;
    std::istringstream in(r.out);
    for (std::string word, id; in >> word >> id;) ids.push_back(id);
    return ids;
  }
  CommandResult Job(const std::string& sub, const std::string& id,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {Cli(), "job", sub, "--queue", queue_, "--id", id};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }
  CommandResult Exec(const std::string& cmd, int jobs) {
    return RunCommand(
        {Cli(), "worker", "--queue", queue_, "--max-jobs", std::to_string(jobs), "--exec", cmd}, "",
        60);
  }
};

TEST_F(JobCliTest, ExecStdoutIsTheResultStderrTheErrorAndShowTellsEverything) {
  Daemon d(queue_, wal(), {"--max-attempts", "1"});
  ASSERT_TRUE(d.Start());
  const std::vector<std::string> ids =
      Ids("ok\nfail\n", {"--priority", "8", "--type", "report", "--header", "tenant=acme"});
  ASSERT_EQ(ids.size(), 2u);
  const CommandResult w = RunCommand(
      {Cli(), "worker", "--queue", queue_, "--max-jobs", "2", "--type", "report", "--exec",
       "read p; if [ \"$p\" = ok ]; then printf 'result\\0of %s' \"$p\"; else "
       "echo 'first line' >&2; echo 'cannot reach upstream' >&2; exit 4; fi"},
      "", 60);
  ASSERT_EQ(w.exit_code, 0) << w.err;

  CommandResult r = Job("wait", ids[0], {"--timeout", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "completed\n");
  r = Job("result", ids[0]);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("result\0of ok", 12));

  r = Job("show", ids[1], {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["id"].get<uint64_t>(), std::stoull(ids[1]));
  EXPECT_EQ(j["state"], "dead");
  EXPECT_EQ(j["attempt"], 1);
  EXPECT_EQ(j["priority"], 8);
  EXPECT_EQ(j["type"], "report");
  EXPECT_EQ(j["headers"]["tenant"], "acme");
  EXPECT_EQ(j["token"].get<std::string>().size(), 40u);
  EXPECT_NE(j["error"].get<std::string>().find("cannot reach upstream"), std::string::npos)
      << r.out;
  EXPECT_GT(j["finished_unix_ns"].get<uint64_t>(), 0u);

  r = Job("result", ids[1]);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("has no result: it is dead"), std::string::npos) << r.err;
  r = Job("wait", ids[1]);
  EXPECT_EQ(r.exit_code, 1) << "dead is not completed";
  EXPECT_EQ(r.out, "dead\n");

  r = Job("show", ids[0]);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("state     completed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result    12 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("header    tenant: acme"), std::string::npos) << r.out;
}

TEST_F(JobCliTest, ProgressLinesShowWhileTheCommandRuns) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const std::vector<std::string> ids = Ids("x\n");
  ASSERT_EQ(ids.size(), 1u);
  const std::string go = tmp_.path() + "/go";
  const pid_t worker =
      test::Spawn({Cli(), "worker", "--queue", queue_, "--max-jobs", "1", "--exec",
                   "echo '40 parsing input' >&$TASKRING_PROGRESS_FD; while [ ! -e " + go +
                       " ]; do sleep 0.02; done; echo done"},
                  -1, -1);
  ASSERT_GT(worker, 0);
  std::string shown;
  for (int i = 0; i < 500; ++i) {
    const CommandResult r = Job("show", ids[0], {"--json"});
    if (r.exit_code == 0 && !nlohmann::json::parse(r.out)["progress"].is_null()) {
      shown = r.out;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const nlohmann::json j = nlohmann::json::parse(shown.empty() ? "{}" : shown);
  ASSERT_FALSE(shown.empty()) << "no progress seen";
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["progress"]["percent"], 40);
  EXPECT_EQ(j["progress"]["message"], "parsing input");
  std::ofstream(go).put('x');
  EXPECT_EQ(test::WaitChild(worker), 0);
  const CommandResult r = Job("result", ids[0]);
  EXPECT_EQ(r.out, "done\n");
}

TEST_F(JobCliTest, CancelAnswersForEachState) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const std::vector<std::string> ids = Ids("a\nb\n");
  ASSERT_EQ(ids.size(), 2u);
  CommandResult r = Job("cancel", ids[0]);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "cancelled\n");
  r = Job("cancel", ids[0]);
  EXPECT_EQ(r.out, "already finished\n");
  r = Job("wait", ids[0]);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "cancelled\n");
  // Only b runs.
  const CommandResult w = Exec("cat", 1);
  ASSERT_EQ(w.exit_code, 0) << w.err;
  r = Job("result", ids[1]);
  EXPECT_EQ(r.out, "b");
  r = Job("cancel", "1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("never enqueued"), std::string::npos) << r.err;
}

TEST_F(JobCliTest, CancellingARunningExecJobTerminatesItsCommandAndEndsItCancelled) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const std::vector<std::string> ids = Ids("x\n");
  ASSERT_EQ(ids.size(), 1u);
  const pid_t worker = test::Spawn({Cli(), "worker", "--queue", queue_, "--max-jobs", "1", "--exec",
                                    "echo '1 started' >&$TASKRING_PROGRESS_FD; exec sleep 30"},
                                   -1, -1);
  ASSERT_GT(worker, 0);
  bool running = false;
  for (int i = 0; i < 500 && !running; ++i) {
    const CommandResult r = Job("show", ids[0], {"--json"});
    running = r.exit_code == 0 && !nlohmann::json::parse(r.out)["progress"].is_null();
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(running);
  CommandResult r = Job("cancel", ids[0]);
  EXPECT_EQ(r.out, "requested\n") << r.err;
  r = Job("wait", ids[0], {"--timeout", "10"});
  EXPECT_EQ(r.out, "cancelled\n") << r.err;
  EXPECT_EQ(test::WaitChild(worker), 0);
  r = Job("show", ids[0], {"--json"});
  EXPECT_NE(nlohmann::json::parse(r.out)["error"].get<std::string>().find("cancel requested"),
            std::string::npos)
      << r.out;
}

TEST_F(JobCliTest, WaitGivesUpAfterItsTimeoutWithExitThree) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const std::vector<std::string> ids = Ids("x\n");
  ASSERT_EQ(ids.size(), 1u);
  const CommandResult r = Job("wait", ids[0], {"--timeout", "1"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("still queued"), std::string::npos) << r.err;
}

TEST_F(JobCliTest, FinishedJobsAreReadableWithoutTheDaemon) {
  std::vector<std::string> ids;
  {
    Daemon d(queue_, wal());
    ASSERT_TRUE(d.Start());
    ids = Ids("kept\n");
    ASSERT_EQ(ids.size(), 1u);
    ASSERT_EQ(Exec("cat", 1).exit_code, 0);
    ASSERT_EQ(Job("wait", ids[0], {"--timeout", "10"}).exit_code, 0);
    ASSERT_EQ(d.Stop(), 0);
  }
  CommandResult r = Job("show", ids[0]);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--dir"), std::string::npos) << "says how to read it offline: " << r.err;
  r = Job("show", ids[0], {"--dir", wal()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("state     completed"), std::string::npos) << r.out;
  r = Job("result", ids[0], {"--dir", wal()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "kept");
}

TEST_F(JobCliTest, WrongFlagsExitTwo) {
  EXPECT_EQ(RunCommand({Cli(), "job"}).exit_code, 2);
  EXPECT_EQ(RunCommand({Cli(), "job", "frobnicate", "--queue", queue_, "--id", "1"}).exit_code, 2);
  EXPECT_EQ(RunCommand({Cli(), "job", "show", "--queue", queue_}).exit_code, 2);
  EXPECT_EQ(RunCommand({Cli(), "job", "show", "--id", "1"}).exit_code, 2);
  const CommandResult help = RunCommand({Cli(), "job", "show", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--timeout"), std::string::npos);
}

}  // namespace
}  // namespace taskring
