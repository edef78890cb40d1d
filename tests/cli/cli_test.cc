// The command-line contract that scripts and ops rely on: output lines, exit codes, errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "test_util.h"

namespace taskring {
namespace {

using test::CommandResult;
using test::Daemon;
using test::RunCommand;

std::string Cli() { return test::BinDir() + "/taskring"; }
std::string Daemond() { return test::BinDir() + "/taskringd"; }

int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Counters move when the daemon has processed what a worker reported, a moment after the
// worker exits: poll (bounded) for the expected value.
uint64_t StatsCounterSettles(const std::string& queue, const std::string& name, uint64_t expected) {
  uint64_t v = test::StatsCounter(queue, name);
  for (int i = 0; i < 200 && v != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    v = test::StatsCounter(queue, name);
  }
  return v;
}

class CliTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("cli");
  test::TempDir tmp_;
};

TEST_F(CliTest, EnqueuePrintsOneAcceptedLinePerInputLineAndExitsZero) {
  Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  std::string input;
  for (int i = 0; i < 1000; ++i) input += "line " + std::to_string(i) + "\n";
  const CommandResult r = RunCommand({Cli(), "enqueue", "--queue", queue_}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CountLines(r.out), 1000);
  const std::string out = test::IdNumbers()(r.out);
  EXPECT_EQ(out.rfind("accepted 1\naccepted 2\n", 0), 0u) << out.substr(0, 100);
  EXPECT_NE(out.find("accepted 1000\n"), std::string::npos);
}

TEST_F(CliTest, EnqueueSaysBusyPerRefusedLineAndExits75) {
  Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "3"});
  ASSERT_TRUE(d.Start());
  const CommandResult r = RunCommand({Cli(), "enqueue", "--queue", queue_}, "a\nb\nc\nd\ne\n");
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_EQ(test::IdNumbers()(r.out), "accepted 1\naccepted 2\naccepted 3\nbusy\nbusy\n");
}

TEST_F(CliTest, EnqueueReportsOversizedLinesAsErrorsAndExitsOne) {
  Daemon d(queue_, tmp_.path() + "/wal", {"--max-payload", "8"});
  ASSERT_TRUE(d.Start());
  const CommandResult r =
      RunCommand({Cli(), "enqueue", "--queue", queue_}, "short\nthis one is too long\nok\n");
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(CountLines(r.out), 3) << r.out;
  const std::string out = test::IdNumbers()(r.out);
  EXPECT_EQ(out.rfind("accepted 1\nerror ", 0), 0u) << out;
  EXPECT_NE(out.find("exceeds the queue's max payload of 8"), std::string::npos) << out;
  EXPECT_NE(out.find("\naccepted 2\n"), std::string::npos) << "a bad line loses nothing else";
}

TEST_F(CliTest, MissingDaemonIsAOneLineErrorWithExitOne) {
  for (const std::string cmd : {"enqueue", "stats"}) {
    const CommandResult r = RunCommand({Cli(), cmd, "--queue", queue_}, "x\n");
    EXPECT_EQ(r.exit_code, 1) << cmd;
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("is taskringd running"), std::string::npos) << r.err;
  }
  const CommandResult r = RunCommand({Cli(), "worker", "--queue", queue_, "--print"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
}

// `taskringd ... & taskring stat --wait N`: the command waits for the queue to appear.
TEST_F(CliTest, StatWaitsForADaemonStartedAfterIt) {
  auto stat = std::async(std::launch::async, [&] {
    return RunCommand({Cli(), "stat", "--queue", queue_, "--wait", "60"});
  });
  Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  const CommandResult r = stat.get();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("daemon         running"), std::string::npos) << r.out;
}

TEST_F(CliTest, WrongFlagsAreOneLineErrorsWithExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {Cli(), "enqueue", "--queue", queue_, "--bogus"},
      {Cli(), "enqueue"},
      {Cli(), "worker", "--queue", queue_},  // neither --print nor --exec
      {Cli(), "worker", "--queue", queue_, "--print", "--exec", "true"},
      {Cli(), "worker", "--queue", queue_, "--print", "--max-jobs", "-3"},
      {Cli(), "stats", "--queue"},
      {Cli(), "dead", "list"},                      // no --queue
      {Cli(), "dead", "purge", "--queue", queue_},  // neither --id nor --all
      {Cli(), "dead", "requeue", "--queue", queue_, "--id", "3", "--all"},
      {Cli(), "dead", "show", "--queue", queue_},  // no --id
      {Cli(), "dead", "bury", "--queue", queue_},
      {Cli(), "frobnicate"},
      {Daemond(), "--queue", queue_},  // no --dir
      {Daemond(), "--queue", queue_, "--dir", tmp_.path(), "--durability", "sometimes"},
      {Daemond(), "--queue", "bad/name", "--dir", tmp_.path()},
      {Daemond(), "--queue", queue_, "--dir", tmp_.path(), "--capacity", "0"},
  };
  for (const auto& argv : bad) {
    const CommandResult r = RunCommand(argv);
    std::string joined;
    for (const auto& a : argv) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << r.err;
    EXPECT_EQ(CountLines(r.err), 1) << joined << r.err;
  }
}

TEST_F(CliTest, EveryCommandHasHelp) {
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{{Cli(), "--help"},
                                             {Cli(), "enqueue", "--help"},
                                             {Cli(), "worker", "--help"},
                                             {Cli(), "stat", "--help"},
                                             {Cli(), "dead", "--help"},
                                             {Cli(), "wal", "--help"},
                                             {Daemond(), "--help"}}) {
    const CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("usage:"), std::string::npos) << argv.back();
  }
}

TEST_F(CliTest, WorkerPrintWritesPayloadsInOrderAndStopsAfterMaxJobs) {
  Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(RunCommand({Cli(), "enqueue", "--queue", queue_}, "one\ntwo\nthree\nfour\n").exit_code,
            0);
  CommandResult r =
      RunCommand({Cli(), "worker", "--queue", queue_, "--print", "--max-jobs", "3"}, "", 20);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "one\ntwo\nthree\n");
  r = RunCommand({Cli(), "worker", "--queue", queue_, "--print", "--idle-exit", "1"}, "", 20);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "four\n");
  EXPECT_EQ(StatsCounterSettles(queue_, "completed", 4), 4u);
}

TEST_F(CliTest, WorkerExecCompletesOnExitZeroAndFailsOtherwise) {
  Daemon d(queue_, tmp_.path() + "/wal", {"--max-attempts", "2", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(RunCommand({Cli(), "enqueue", "--queue", queue_}, "good\nbad\n").exit_code, 0);
  const std::string log = tmp_.path() + "/ran";
  const CommandResult r = RunCommand(
      {Cli(), "worker", "--queue", queue_, "--exec",
       "read p; echo \"$p $TASKRING_JOB_ID $TASKRING_ATTEMPT\" >> " + log + "; [ \"$p\" = good ]",
       "--idle-exit", "1"},
      "", 30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(log);
  const std::string all = test::IdNumbers()(
      std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
  EXPECT_NE(all.find("good 1 1\n"), std::string::npos) << all;
  EXPECT_NE(all.find("bad 2 1\n"), std::string::npos) << all;
  EXPECT_NE(all.find("bad 2 2\n"), std::string::npos) << all;
  EXPECT_EQ(CountLines(all), 3) << "bad runs max-attempts times, then is dead-lettered";
  EXPECT_EQ(StatsCounterSettles(queue_, "completed", 1), 1u);
  EXPECT_EQ(StatsCounterSettles(queue_, "dead", 1), 1u);
  EXPECT_EQ(StatsCounterSettles(queue_, "retried", 1), 1u);
}

TEST_F(CliTest, WorkerFinishesTheJobInHandOnSigterm) {
  Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(RunCommand({Cli(), "enqueue", "--queue", queue_}, "slow\nnext\n").exit_code, 0);
  const std::string marker = tmp_.path() + "/started";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = "touch " + marker + "; sleep 1";
    ::execl(Cli().c_str(), "taskring", "worker", "--queue", queue_.c_str(), "--exec", cmd.c_str(),
            static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 500 && ::access(marker.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGTERM);
  EXPECT_EQ(test::WaitChild(pid), 0);
  EXPECT_EQ(StatsCounterSettles(queue_, "completed", 1), 1u) << "the job in hand ran to completion";
  EXPECT_EQ(StatsCounterSettles(queue_, "depth", 1), 1u) << "and no further job was taken";
}

TEST_F(CliTest, StatReadsTheSegmentWithTheHttpEndpointOff) {
  Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "77", "--no-metrics"});
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(RunCommand({Cli(), "enqueue", "--queue", queue_}, "a\nb\n").exit_code, 0);
  ASSERT_EQ(
      RunCommand({Cli(), "worker", "--queue", queue_, "--print", "--max-jobs", "1"}).exit_code, 0);
  EXPECT_EQ(StatsCounterSettles(queue_, "completed", 1), 1u);
  EXPECT_EQ(StatsCounterSettles(queue_, "outcomes_stored", 1), 1u) << "the completed job's";
  CommandResult r = RunCommand({Cli(), "stat", "--queue", queue_});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* want : {"capacity       77\n", "depth          1\n", "daemon         running\n",
                           "metrics        off\n", "completed      1\n", "rejected_busy  0\n",
                           "outcome_records 1\n", "outcomes_stored 1\n", "outcomes_evicted 0\n",
                           "outcomes_expired 0\n", "cancel_requests 0\n", "cancelled      0\n"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("outcome_bytes  0\n"), std::string::npos) << "the record takes bytes\n"
                                                                 << r.out;
  EXPECT_NE(r.out.find("outcome_bytes  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("job_run                 1 "), std::string::npos) << "one run recorded\n"
                                                                         << r.out;
  EXPECT_EQ(StatsCounterSettles(queue_, "outstanding", 1), 1u);
  EXPECT_EQ(StatsCounterSettles(queue_, "workers", 0), 0u);
  r = RunCommand({Cli(), "stat", "--queue", queue_, "--json"});
  EXPECT_NE(r.out.find("\"job_latency\":{\"count\":1,"), std::string::npos) << r.out;
  // The store's size is a gauge, beside the others; what it stored, a counter.
  const size_t counters = r.out.find("\"counters\":{");
  EXPECT_LT(r.out.find(",\"outcome_records\":1,"), counters) << r.out;
  EXPECT_LT(r.out.find(",\"outcome_bytes\":"), counters) << r.out;
  const size_t stored = r.out.find(",\"outcomes_stored\":1,");
  EXPECT_TRUE(stored != std::string::npos && stored > counters) << r.out;

  // --watch: one frame per interval, counters with their rate.
  r = RunCommand(
      {Cli(), "stat", "--queue", queue_, "--watch", "--interval-ms", "100", "--count", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t frames = 0;
  for (size_t at = 0; (at = r.out.find("queue          ", at)) != std::string::npos; ++at) ++frames;
  EXPECT_EQ(frames, 3u) << r.out;
  EXPECT_NE(r.out.find("completed      1   (0.0/s)"), std::string::npos) << r.out;

  EXPECT_EQ(d.Stop(), 0);
  r = RunCommand({Cli(), "stats", "--queue", queue_});
  EXPECT_EQ(r.exit_code, 1) << "a clean stop removes the segment";
  EXPECT_NE(r.err.find("is taskringd running"), std::string::npos) << r.err;
}

TEST_F(CliTest, SecondDaemonOnTheSameQueueIsRefused) {
  Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  CommandResult r = RunCommand({Daemond(), "--queue", queue_, "--dir", tmp_.path() + "/other"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("another taskringd (pid " + std::to_string(d.pid()) + ")"),
            std::string::npos)
      << r.err;
  r = RunCommand({Daemond(), "--queue", queue_ + "x", "--dir", tmp_.path() + "/wal"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is using WAL directory"), std::string::npos) << r.err;
}

TEST_F(CliTest, UnusableWalDirectoryIsAClearError) {
  const std::string file = tmp_.path() + "/plainfile";
  std::ofstream(file) << "x";
  const CommandResult r = RunCommand({Daemond(), "--queue", queue_, "--dir", file + "/wal"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot create WAL directory"), std::string::npos) << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
}

TEST_F(CliTest, WalDumpPrintsRecordsAndVerifyReportsTheFirstCorruptOffset) {
  const std::string wal = tmp_.path() + "/wal";
  {
    Daemon d(queue_, wal);
    ASSERT_TRUE(d.Start());
    ASSERT_EQ(RunCommand({Cli(), "enqueue", "--queue", queue_}, "hello\nworld\n").exit_code, 0);
    EXPECT_EQ(d.Stop(), 0);
  }
  CommandResult r = RunCommand({Cli(), "wal", "dump", "--dir", wal});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r.out = test::IdNumbers()(r.out);
  EXPECT_NE(
      r.out.find("type=enqueue job=1 attempt=0 max_attempts=3 priority=5 bytes=5 payload=hello"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("job=2"), std::string::npos) << r.out;
  r = RunCommand({Cli(), "wal", "verify", "--dir", wal});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("ok: 2 records", 0), 0u) << r.out;

  const std::string seg = wal + "/wal-00000000000000000001.log";
  std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(20);
  f.put('\x01');
  f.close();
  r = RunCommand({Cli(), "wal", "verify", "--dir", wal});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("wal-00000000000000000001.log:0:"), std::string::npos) << r.err;
  EXPECT_EQ(RunCommand({Cli(), "wal", "verify", "--dir", wal}).err, r.err) << "never modifies";
  EXPECT_EQ(RunCommand({Cli(), "wal", "frobnicate", "--dir", wal}).exit_code, 2);
  EXPECT_EQ(RunCommand({Cli(), "wal", "dump", "--dir", tmp_.path() + "/nope"}).exit_code, 1);
}

TEST_F(CliTest, CorruptWalStopsTheDaemonWithAClearMessage) {
  const std::string wal = tmp_.path() + "/wal";
  {
    Daemon d(queue_, wal, {"--wal-segment-mb", "1"});
    ASSERT_TRUE(d.Start());
    std::string input;
    for (int i = 0; i < 200; ++i) input += std::string(100, 'a' + i % 26) + "\n";
    ASSERT_EQ(RunCommand({Cli(), "enqueue", "--queue", queue_}, input).exit_code, 0);
    EXPECT_EQ(d.Stop(), 0);
  }
  // Flip a byte early in the first segment: damage in the middle, not a torn tail.
  const std::string seg = wal + "/wal-00000000000000000001.log";
  std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << seg;
  f.seekp(200);
  f.put('\x7f');
  f.close();
  CommandResult r = RunCommand({Daemond(), "--queue", queue_, "--dir", wal});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("wal-00000000000000000001.log:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--salvage"), std::string::npos) << r.err;
  test::Daemon salvaged(queue_, wal, {"--salvage"});
  ASSERT_TRUE(salvaged.Start());
  EXPECT_NE(salvaged.Log().find("salvage skipped"), std::string::npos) << salvaged.Log();
}

}  // namespace
}  // namespace taskring
