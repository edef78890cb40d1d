// `taskring worker --exec`: the command and everything it starts live and die with the worker
// (SIGKILL, SIGTERM, --timeout), one log line per outcome, and riding through a daemon restart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
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

// Failure bounds only (sanitizer builds are slow); every wait polls for its condition.
constexpr int kBoundMs = 30000;

std::string Cli() { return test::BinDir() + "/taskring"; }

bool WaitFor(const std::function<bool()>& done, int bound_ms = kBoundMs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The scripts write pid files through a rename, so a file that exists is complete.
pid_t ReadPid(const std::string& path) {
  return static_cast<pid_t>(std::atoi(ReadFile(path).c_str()));
}

// Gone, or a zombie (dead, waiting to be reaped by whoever inherited it).
bool ProcessGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return true;
  const size_t rp = line.rfind(')');
  return rp == std::string::npos || rp + 2 >= line.size() || line[rp + 2] == 'Z' ||
         line[rp + 2] == 'X';
}

bool StatsCounterReaches(const std::string& queue, const std::string& name, uint64_t want) {
  return WaitFor([&] { return test::StatsCounter(queue, name) == want; });
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

class WorkerExecTest : public ::testing::Test {
 protected:
  ~WorkerExecTest() override {
    // Never leak a test's processes, whatever the outcome (the old worker leaves them running).
    for (pid_t p : pids_) {
      if (!ProcessGone(p)) ::kill(p, SIGKILL);
    }
    if (worker_ > 0 && WorkerRunning()) {
      ::kill(worker_, SIGKILL);
      test::WaitChild(worker_);
    }
  }

  std::string Path(const std::string& name) const { return tmp_.path() + "/" + name; }

  // Writes `body` as a shell script and returns the command that runs it. `exec`: the script
  // is the command's process itself, not a child of /bin/sh -c, so its own signal handling and
  // exit status decide (as the worker's --help advises).
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = Path(name);
    std::ofstream(path) << body;
    return "exec sh " + path;
  }

  // Starts `taskring worker --queue Q <args>` with its stderr in a file.
  void StartWorker(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {Cli(), "worker", "--queue", queue_};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string err = Path("worker.err");
    const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    worker_ = test::Spawn(std::move(argv), STDIN_FILENO, STDOUT_FILENO, fd);
    ::close(fd);
    ASSERT_GE(worker_, 0);
  }
  // With job ids renumbered from 1 (test::IdNumbers).
  std::string WorkerErr() const { return test::IdNumbers()(ReadFile(Path("worker.err"))); }
  // The worker's exit code (or 128+signal); -1, the worker killed, if it is still running
  // after the bound.
  int WaitWorker() {
    int code = -1;
    if (WaitFor([&] { return !WorkerRunning(); })) {
      code = exited_;
    } else {
      ::kill(worker_, SIGKILL);
      test::WaitChild(worker_);
    }
    worker_ = -1;
    return code;
  }
  bool WorkerRunning() {
    int status = 0;
    const pid_t r = ::waitpid(worker_, &status, WNOHANG);
    if (r == 0) return true;
    if (r == worker_) exited_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }

  // Waits for a pid file and remembers the pid for cleanup.
  pid_t AwaitPid(const std::string& name) {
    const std::string path = Path(name);
    if (!WaitFor([&] { return ::access(path.c_str(), F_OK) == 0; })) {
      ADD_FAILURE() << "no " << name << "; worker stderr:\n" << WorkerErr();
      return -1;
    }
    const pid_t pid = ReadPid(path);
    pids_.push_back(pid);
    return pid;
  }

  void Enqueue(const std::string& lines) {
    ASSERT_EQ(RunCommand({Cli(), "enqueue", "--queue", queue_}, lines).exit_code, 0);
  }

  std::string queue_ = test::UniqueQueueName("wexec");
  test::TempDir tmp_;
  pid_t worker_ = -1;
  int exited_ = -1;
  std::vector<pid_t> pids_;
};

// A command that starts a grandchild in its group and one that leaves it (setsid), records the
// three pids (in files named after its payload, a job number), and sleeps.
std::string TreeScript(const std::string& dir) {
  return "read p\nd=" + dir + "/$p\n" +
         "sleep 300 &\n"
         "echo $! > $d.gc.tmp; mv $d.gc.tmp $d.gc\n"
         "setsid sh -c 'echo $$ > '$d'.sid.tmp; mv '$d'.sid.tmp '$d'.sid; exec sleep 300' &\n"
         "echo $$ > $d.cmd.tmp; mv $d.cmd.tmp $d.cmd\n"
         "sleep 300\n";
}

class WorkerSigkillTest : public WorkerExecTest, public ::testing::WithParamInterface<int> {};

TEST_P(WorkerSigkillTest, TakesTheCommandAndEverythingItStartedAlong) {
  const int threads = GetParam();
  Daemon d(queue_, Path("wal"));
  ASSERT_TRUE(d.Start());
  for (int i = 1; i <= threads; ++i) Enqueue(std::to_string(i) + "\n");
  StartWorker(
      {"--exec", Script("tree.sh", TreeScript(tmp_.path())), "--threads", std::to_string(threads)});
  std::vector<pid_t> tree;
  for (int job = 1; job <= threads; ++job) {
    for (const char* what : {"cmd", "gc", "sid"}) {
      tree.push_back(AwaitPid(std::to_string(job) + "." + what));
    }
  }
  for (pid_t p : tree) ASSERT_FALSE(ProcessGone(p)) << p;

  ::kill(worker_, SIGKILL);
  EXPECT_EQ(WaitWorker(), 128 + SIGKILL);
  for (size_t i = 0; i < tree.size(); ++i) {
    EXPECT_TRUE(WaitFor([&] { return ProcessGone(tree[i]); }))
        << "job " << i / 3 + 1 << " "
        << (const char*[]){"command", "grandchild", "setsid grandchild"}[i % 3] << " (pid "
        << tree[i] << ") outlived its worker";
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, WorkerSigkillTest, ::testing::Values(1, 2));

// After the grace (0 here), the stop reaches the command's whole group.
TEST_F(WorkerExecTest, SigtermReachesTheCommandGroupAfterTheGraceAndTheWorkerExitsZero) {
  Daemon d(queue_, Path("wal"));
  ASSERT_TRUE(d.Start());
  Enqueue("job\nnot taken\n");
  const std::string script =
      "echo run >> " + Path("runs") + "\n" + "trap 'echo term > " + Path("got.tmp") + "; mv " +
      Path("got.tmp") + " " + Path("got") + "; exit 3' TERM\n" +
      "sleep 300 &\n"
      "echo $! > " +
      Path("gc.tmp") + "; mv " + Path("gc.tmp") + " " + Path("gc") + "\nwait $!\n";
  StartWorker({"--exec", Script("term.sh", script), "--grace", "0"});
  const pid_t gc = AwaitPid("gc");
  ::kill(worker_, SIGTERM);
  EXPECT_EQ(WaitWorker(), 0);
  EXPECT_EQ(ReadFile(Path("got")), "term\n") << "the command got SIGTERM";
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(gc); })) << "and so did its group";
  EXPECT_NE(WorkerErr().find("job 1 attempt 1 failed exit=3 (worker stopping) duration="),
            std::string::npos)
      << WorkerErr();
  EXPECT_TRUE(StatsCounterReaches(queue_, "retried", 1)) << "the attempt failed";
  EXPECT_EQ(ReadFile(Path("runs")), "run\n") << "no other job was taken";
}

TEST_F(WorkerExecTest, SigtermEscalatesToSigkillAfterTheGrace) {
  Daemon d(queue_, Path("wal"));
  ASSERT_TRUE(d.Start());
  Enqueue("job\n");
  const std::string script = "trap '' TERM\necho $$ > " + Path("cmd.tmp") + "; mv " +
                             Path("cmd.tmp") + " " + Path("cmd") + "\nsleep 300\n";
  StartWorker({"--exec", Script("stubborn.sh", script), "--grace", "1"});
  const pid_t cmd = AwaitPid("cmd");
  ::kill(worker_, SIGTERM);
  EXPECT_EQ(WaitWorker(), 0);
  EXPECT_TRUE(ProcessGone(cmd));
  EXPECT_NE(WorkerErr().find("job 1 attempt 1 failed signal=SIGKILL (worker stopping)"),
            std::string::npos)
      << WorkerErr();
}

TEST_F(WorkerExecTest, TimeoutKillsTheCommandAndFailsTheAttempt) {
  Daemon d(queue_, Path("wal"), {"--max-attempts", "2", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(d.Start());
  Enqueue("slow\n");
  const std::string script = "echo $$ > " + Path("$TASKRING_ATTEMPT.tmp") + "; mv " +
                             Path("$TASKRING_ATTEMPT.tmp") + " " + Path("$TASKRING_ATTEMPT") +
                             "\nexec sleep 300\n";
  StartWorker({"--exec", Script("slow.sh", script), "--timeout", "1", "--max-jobs", "1"});
  const pid_t cmd = AwaitPid("1");
  EXPECT_EQ(WaitWorker(), 0) << "--max-jobs 1: done after the timed-out job";
  EXPECT_TRUE(ProcessGone(cmd)) << "the command was killed";
  EXPECT_NE(WorkerErr().find("job 1 attempt 1 failed timeout=1s signal=SIGTERM duration="),
            std::string::npos)
      << WorkerErr();
  EXPECT_TRUE(StatsCounterReaches(queue_, "retried", 1)) << "the attempt failed";
  EXPECT_EQ(test::StatsCounter(queue_, "completed"), 0u);
}

TEST_F(WorkerExecTest, ARevokedLeaseStopsTheCommandSoTheJobDoesNotRunTwiceAtOnce) {
  Daemon d(queue_, Path("wal"), {"--lease-ms", "300"});
  ASSERT_TRUE(d.Start());
  Enqueue("job\n");
  const std::string script = "echo $$ > " + Path("$TASKRING_ATTEMPT.tmp") + "; mv " +
                             Path("$TASKRING_ATTEMPT.tmp") + " " + Path("$TASKRING_ATTEMPT") +
                             "\nexec sleep 300\n";
  StartWorker({"--exec", Script("long.sh", script)});
  const pid_t first = AwaitPid("1");
  // Stopped past its lease: the daemon hands the job out again.
  ::kill(worker_, SIGSTOP);
  EXPECT_TRUE(StatsCounterReaches(queue_, "redelivered", 1));
  ::kill(worker_, SIGCONT);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(first); })) << WorkerErr();
  EXPECT_TRUE(WaitFor([&] {
    return WorkerErr().find("job 1 attempt 1 failed signal=SIGTERM (lease revoked) duration=") !=
           std::string::npos;
  })) << WorkerErr();
  EXPECT_NE(WorkerErr().find("outcome rejected"), std::string::npos) << WorkerErr();
  ::kill(worker_, SIGTERM);
  EXPECT_EQ(WaitWorker(), 0);
}

TEST_F(WorkerExecTest, OneLinePerOutcomeWithTheStderrTailAndQuietDropsThem) {
  Daemon d(queue_, Path("wal"), {"--max-attempts", "1"});
  ASSERT_TRUE(d.Start());
  Enqueue("ok\nbad\n");
  const std::string cmd = "read p; echo \"said $p\" >&2; seq 1 6 >&2; [ \"$p\" = ok ]";
  CommandResult r =
      RunCommand({Cli(), "worker", "--queue", queue_, "--exec", cmd, "--max-jobs", "2"}, "", 60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count(r.err, "taskring worker: job "), 2u) << r.err;
  r.err = test::IdNumbers()(r.err);
  EXPECT_NE(r.err.find("taskring worker: job 1 attempt 1 completed exit=0 duration="),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("taskring worker: job 2 attempt 1 failed exit=1 duration="),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(R"(s stderr="3\x0a4\x0a5\x0a6")"), std::string::npos)
      << "the last 4 lines, on the log line\n"
      << r.err;
  EXPECT_NE(r.err.find("said bad\n1\n2\n3\n4\n5\n6\n"), std::string::npos)
      << "stderr passes through\n"
      << r.err;

  Enqueue("ok\nbad\n");
  r = RunCommand({Cli(), "worker", "--queue", queue_, "--exec", cmd, "--max-jobs", "2", "--quiet"},
                 "", 60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Count(r.err, "taskring worker:"), 0u) << r.err;
  EXPECT_NE(r.err.find("said bad\n"), std::string::npos) << r.err;
  EXPECT_TRUE(StatsCounterReaches(queue_, "completed", 2));
  EXPECT_TRUE(StatsCounterReaches(queue_, "dead", 2));
}

TEST_F(WorkerExecTest, StdoutIsTheResultNotTheWorkersOutputAndMoreThanMaxResultFailsTheAttempt) {
  Daemon d(queue_, Path("wal"), {"--max-attempts", "1"});
  ASSERT_TRUE(d.Start());
  Enqueue("small\nbig\n");
  const std::string cmd =
      "read p; echo '50 half' >&$TASKRING_PROGRESS_FD; echo 'bad' >&$TASKRING_PROGRESS_FD\n"
      "if [ \"$p\" = big ]; then head -c 100000 /dev/zero; else echo \"$p\"; fi";
  CommandResult r = RunCommand({Cli(), "worker", "--queue", queue_, "--exec", cmd, "--max-jobs",
                                "2", "--max-result", "1000"},
                               "", 60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "") << "a command's stdout is its job's result, not the worker's output";
  r.err = test::IdNumbers()(r.err);
  EXPECT_NE(r.err.find("job 1 attempt 1 completed exit=0 duration="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("job 2 attempt 1 failed exit=0 error=\"stdout exceeded --max-result 1000 "
                       "bytes\" duration="),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Count(r.err, " progress_malformed=1"), 2u) << r.err;
  EXPECT_TRUE(StatsCounterReaches(queue_, "completed", 1));
  EXPECT_TRUE(StatsCounterReaches(queue_, "dead", 1));
}

TEST_F(WorkerExecTest, RidesThroughADaemonCrashAndRestart) {
  const std::string out = Path("out");
  // Started before the daemon: --wait covers a daemon that is not up yet, too.
  StartWorker({"--exec", "cat >> " + out + "; echo >> " + out, "--wait", "60"});
  Daemon d(queue_, Path("wal"));
  ASSERT_TRUE(d.Start());
  Enqueue("one\n");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(out) == "one\n"; })) << WorkerErr();
  ASSERT_TRUE(StatsCounterReaches(queue_, "completed", 1));

  d.Kill();
  ASSERT_TRUE(d.Start()) << "restart on the same WAL directory";
  Enqueue("two\nthree\n");
  EXPECT_TRUE(WaitFor([&] { return ReadFile(out) == "one\ntwo\nthree\n"; }))
      << ReadFile(out) << "\n"
      << WorkerErr();
  EXPECT_TRUE(WorkerRunning()) << "the same worker process did them";

  ASSERT_EQ(d.Stop(), 0);
  ASSERT_TRUE(d.Start()) << "a clean stop and start";
  Enqueue("four\n");
  EXPECT_TRUE(WaitFor([&] { return ReadFile(out) == "one\ntwo\nthree\nfour\n"; }))
      << ReadFile(out) << "\n"
      << WorkerErr();
  EXPECT_TRUE(WorkerRunning());
  const std::string err = WorkerErr();
  EXPECT_EQ(Count(err, "reconnected"), 2u) << err;
  EXPECT_NE(err.find("lost the daemon for queue '" + queue_ + "'"), std::string::npos) << err;
  EXPECT_NE(err.find("reconnected to the daemon for queue '" + queue_ + "'"), std::string::npos)
      << err;
  ::kill(worker_, SIGTERM);
  EXPECT_EQ(WaitWorker(), 0);
}

TEST_F(WorkerExecTest, NoDaemonWithinTheWaitIsOneClearLineAndExitZero) {
  const CommandResult r =
      RunCommand({Cli(), "worker", "--queue", queue_, "--exec", "true", "--wait", "1"}, "", 60);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "taskring worker: no daemon for queue " + queue_ + " within 1 s; exiting\n");
}

TEST_F(WorkerExecTest, HelpListsTheFlagsAndWrongOnesExitTwo) {
  const CommandResult help = RunCommand({Cli(), "worker", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* doc : {"the job's result", "TASKRING_PROGRESS_FD", "PERCENT [MESSAGE]"}) {
    EXPECT_NE(help.out.find(doc), std::string::npos) << doc;
  }
  for (const char* flag : {"--exec", "--print", "--threads", "--timeout", "--grace", "--max-result",
                           "--wait", "--max-jobs", "--idle-exit", "--quiet"}) {
    EXPECT_NE(help.out.find(std::string("  ") + flag + " "), std::string::npos) << flag;
  }
  const std::vector<std::vector<std::string>> bad = {
      {"--print", "--timeout", "5"},
      {"--print", "--grace", "5"},
      {"--exec", "true", "--timeout", "soon"},
      {"--exec", "true", "--wait", "-1"},
      {"--exec", "true", "--grace"},
      {"--print", "--max-result", "5"},
      {"--exec", "true", "--max-result", "16777217"},
  };
  for (const auto& args : bad) {
    std::vector<std::string> argv = {Cli(), "worker", "--queue", queue_};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << args[1] << " " << r.err;
    EXPECT_EQ(Count(r.err, "\n"), 1u) << r.err;
  }
}

}  // namespace
}  // namespace taskring
