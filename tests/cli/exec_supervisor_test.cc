// SupervisedCommand driven directly, as the worker's loop drives it: the command's stdout comes
// back as the result (bounded, never blocking the command), its stderr's last lines, and its
// progress reports while it runs; nothing hangs whatever the command does with its descriptors.
#include "cli/exec_supervisor.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace taskring::cli {
namespace {

// A failure bound only: every wait polls for its condition, and each test takes well under 2 s.
constexpr int kBoundMs = 10000;

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Gone, or a zombie.
bool ProcessGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return true;
  const size_t rp = line.rfind(')');
  return rp == std::string::npos || rp + 2 >= line.size() || line[rp + 2] == 'Z' ||
         line[rp + 2] == 'X';
}

class ExecSupervisorTest : public ::testing::Test {
 protected:
  ~ExecSupervisorTest() override {
    for (pid_t p : pids_) {
      if (!ProcessGone(p)) ::kill(p, SIGKILL);
    }
  }

  std::string Path(const std::string& name) const { return tmp_.path() + "/" + name; }

  std::unique_ptr<SupervisedCommand> Start(const std::string& command, std::string stdin_data = "",
                                           size_t max_stdout = kDefaultMaxStdout) {
    SupervisedCommand::Spec spec;
    spec.command = command;
    spec.stdin_data = std::move(stdin_data);
    spec.max_stdout = max_stdout;
    std::unique_ptr<SupervisedCommand> cmd;
    EXPECT_TRUE(SupervisedCommand::Start(spec, &cmd).ok());
    return cmd;
  }

  // Polls the command's descriptors, pumps and takes its progress reports, as the worker's loop
  // does, until the outcome is in (true), or `until` holds or the bound passes (false).
  bool Drive(SupervisedCommand& cmd, ExecOutcome* out,
             const std::function<bool()>& until = nullptr) {
    const auto start = Clock::now();
    for (;;) {
      std::vector<pollfd> fds;
      for (const int fd : cmd.fds()) fds.push_back({fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 10);
      cmd.Pump();
      const bool done = cmd.Collect(out);
      ExecProgress p;
      if (cmd.TakeProgress(&p)) reports_.push_back(p);
      if (done) return true;
      if (until && until()) return false;
      if (MsSince(start) > kBoundMs) {
        ADD_FAILURE() << "no outcome within " << kBoundMs << " ms";
        return false;
      }
    }
  }

  // Runs the command to its end.
  ExecOutcome Run(const std::string& command, std::string stdin_data = "",
                  size_t max_stdout = kDefaultMaxStdout) {
    ExecOutcome o;
    auto cmd = Start(command, std::move(stdin_data), max_stdout);
    if (cmd) {
      EXPECT_TRUE(Drive(*cmd, &o));
    }
    return o;
  }

  // Waits for a pid file (written through a rename, so one that exists is complete).
  pid_t AwaitPid(const std::string& name) {
    const auto start = Clock::now();
    while (::access(Path(name).c_str(), F_OK) != 0) {
      if (MsSince(start) > kBoundMs) {
        ADD_FAILURE() << "no " << name;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const pid_t pid = static_cast<pid_t>(std::atoi(ReadFile(Path(name)).c_str()));
    pids_.push_back(pid);
    return pid;
  }
  // Shell code that writes `what` (a shell expression) to the pid file `name`.
  std::string WritePid(const std::string& what, const std::string& name) const {
    return "echo " + what + " > " + Path(name) + ".tmp; mv " + Path(name) + ".tmp " + Path(name);
  }

  test::TempDir tmp_;
  std::vector<ExecProgress> reports_;
  std::vector<pid_t> pids_;  // killed at the end if still there
};

// Every byte value, NULs included, several times over.
std::string AllBytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 % 256);
  return s;
}

TEST_F(ExecSupervisorTest, StdoutIsTheResultByteForByte) {
  const std::string data = AllBytes(5000);
  const ExecOutcome o = Run("cat", data);
  EXPECT_EQ(o.kind, ExecOutcome::Kind::kExited);
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.stdout_data, data);
  EXPECT_FALSE(o.stdout_overflow);
}

TEST_F(ExecSupervisorTest, StdoutExactlyAtTheBoundIsKept) {
  const std::string data = AllBytes(1000);
  const ExecOutcome o = Run("cat", data, 1000);
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.stdout_data, data);
  EXPECT_FALSE(o.stdout_overflow);
}

TEST_F(ExecSupervisorTest, OneByteOverTheBoundIsAnOverflowAndKeepsOnlyTheBound) {
  const std::string data = AllBytes(1001);
  const ExecOutcome o = Run("cat", data, 1000);
  EXPECT_EQ(o.kind, ExecOutcome::Kind::kExited);
  EXPECT_EQ(o.code, 0) << "the command itself succeeded: the overflow is the worker's verdict";
  EXPECT_TRUE(o.stdout_overflow);
  EXPECT_EQ(o.stdout_data, data.substr(0, 1000));
}

TEST_F(ExecSupervisorTest, ABoundOfZeroAllowsNoOutputAtAll) {
  ExecOutcome o = Run("true", "", 0);
  EXPECT_FALSE(o.stdout_overflow);
  EXPECT_EQ(o.stdout_data, "");
  o = Run("printf x", "", 0);
  EXPECT_TRUE(o.stdout_overflow);
  EXPECT_EQ(o.stdout_data, "");
}

TEST_F(ExecSupervisorTest, AHundredMegabytesPastTheBoundAreDrainedNotBuffered) {
  const auto start = Clock::now();
  const ExecOutcome o = Run("head -c 100000000 /dev/zero; echo wrote it all >&2");
  EXPECT_EQ(o.kind, ExecOutcome::Kind::kExited);
  EXPECT_EQ(o.code, 0) << "the command was never blocked or killed";
  EXPECT_EQ(o.stderr_tail, "wrote it all");
  EXPECT_TRUE(o.stdout_overflow);
  EXPECT_EQ(o.stdout_data, std::string(kDefaultMaxStdout, '\0'));
  EXPECT_LT(o.stdout_data.capacity(), 4 * kDefaultMaxStdout) << "nothing past the bound was kept";
  EXPECT_LT(MsSince(start), 5000);
}

TEST_F(ExecSupervisorTest, TheEnvironmentNamesTheProgressDescriptorWhateverWasSetBefore) {
  ::setenv("TASKRING_PROGRESS_FD", "7", 1);  // as in a worker run by another job's command
  SupervisedCommand::Spec spec;
  spec.command = "echo \"$TASKRING_PROGRESS_FD\"; env | grep -c '^TASKRING_PROGRESS_FD='";
  spec.env = {"TASKRING_PROGRESS_FD=8", "OTHER=1"};
  std::unique_ptr<SupervisedCommand> cmd;
  ASSERT_TRUE(SupervisedCommand::Start(spec, &cmd).ok());
  ::unsetenv("TASKRING_PROGRESS_FD");
  ExecOutcome o;
  ASSERT_TRUE(Drive(*cmd, &o));
  EXPECT_EQ(o.stdout_data, std::to_string(kProgressFd) + "\n1\n");
}

TEST_F(ExecSupervisorTest, ProgressIsSeenWhileTheCommandRuns) {
  const std::string go = Path("go");
  auto cmd = Start(
      "echo '40 parsing' >&$TASKRING_PROGRESS_FD\n"
      "while [ ! -e " +
      go +
      " ]; do sleep 0.005; done\n"
      "echo '100 done' >&$TASKRING_PROGRESS_FD\n");
  ASSERT_TRUE(cmd);
  ExecOutcome o;
  ASSERT_FALSE(Drive(*cmd, &o, [&] { return !reports_.empty(); }))
      << "the command cannot end before the test lets it";
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].percent, 40);
  EXPECT_EQ(reports_[0].message, "parsing");

  std::ofstream(go).put('\n');  // only now may the command go on
  ASSERT_TRUE(Drive(*cmd, &o));
  EXPECT_EQ(o.code, 0);
  ASSERT_EQ(reports_.size(), 2u);
  EXPECT_EQ(reports_[1].percent, 100);
  EXPECT_EQ(reports_[1].message, "done");
  EXPECT_EQ(o.progress_malformed, 0u);
}

TEST_F(ExecSupervisorTest, MalformedProgressLinesAreIgnoredAndCounted) {
  // 9 malformed lines around the one report; the last line has no newline (ignored, uncounted).
  const ExecOutcome o =
      Run("printf 'abc\\n101\\n40%%\\n\\n 5\\n1000\\n-1\\n7 ok\\n8 bell\\007\\n9x\\n5' "
          ">&$TASKRING_PROGRESS_FD");
  EXPECT_EQ(o.code, 0);
  ASSERT_FALSE(reports_.empty());
  EXPECT_EQ(reports_.back().percent, 7);
  EXPECT_EQ(reports_.back().message, "ok");
  EXPECT_EQ(o.progress_malformed, 9u);
}

TEST_F(ExecSupervisorTest, BinaryGarbageOnTheProgressDescriptorIsSurvived) {
  const ExecOutcome o =
      Run("head -c 1000000 /dev/urandom >&$TASKRING_PROGRESS_FD; echo >&$TASKRING_PROGRESS_FD\n"
          "echo '42 fine' >&$TASKRING_PROGRESS_FD; echo still here");
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.stdout_data, "still here\n");
  ASSERT_FALSE(reports_.empty());
  EXPECT_EQ(reports_.back().percent, 42) << "the newest report wins";
  EXPECT_EQ(reports_.back().message, "fine");
  EXPECT_GT(o.progress_malformed, 0u);
}

TEST_F(ExecSupervisorTest, TheStderrTailIsItsLastLines) {
  const ExecOutcome o = Run("echo out; seq 1 6 >&2; exit 3");
  EXPECT_EQ(o.kind, ExecOutcome::Kind::kExited);
  EXPECT_EQ(o.code, 3);
  EXPECT_EQ(o.stderr_tail, "3\n4\n5\n6");
  EXPECT_EQ(o.stdout_data, "out\n") << "stdout and stderr are kept apart";
}

TEST_F(ExecSupervisorTest, ACommandThatClosesItsProgressDescriptorRunsOn) {
  auto cmd = Start("exec 3>&-; sleep 0.2; echo ok");
  ASSERT_TRUE(cmd);
  ExecOutcome o;
  // The progress pipe's EOF takes it off the poll list while the command still runs.
  EXPECT_FALSE(Drive(*cmd, &o, [&] { return cmd->fds().size() == 2; }));
  ASSERT_TRUE(Drive(*cmd, &o));
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.stdout_data, "ok\n");
  EXPECT_TRUE(reports_.empty());
}

TEST_F(ExecSupervisorTest, ACommandThatClosesItsStdoutRunsOn) {
  const ExecOutcome o = Run("echo before; exec >&-; sleep 0.05; echo after >&2");
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.stdout_data, "before\n");
  EXPECT_EQ(o.stderr_tail, "after");
}

TEST_F(ExecSupervisorTest, AGrandchildHoldingTheOutputDoesNotHoldUpTheOutcome) {
  // It gets SIGTERM when the command exits (the supervisor's rule for leftovers).
  auto start = Clock::now();
  ExecOutcome o = Run("sleep 100 & echo hi; echo '3' >&$TASKRING_PROGRESS_FD");
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.stdout_data, "hi\n");
  EXPECT_LT(MsSince(start), 900);

  // One that ignores SIGTERM (the command waits until it does) and keeps writing to both pipes:
  // SIGKILL 1 s later.
  const std::string ready = Path("ready");
  start = Clock::now();
  o = Run("sh -c 'trap \"\" TERM; touch " + ready +
          "; while :; do echo x; echo 1 >&3; sleep 0.01; done' &\n"
          "while [ ! -e " +
          ready + " ]; do sleep 0.005; done; echo hi");
  EXPECT_EQ(o.code, 0);
  EXPECT_NE(o.stdout_data.find("hi\n"), std::string::npos) << o.stdout_data;
  EXPECT_GE(MsSince(start), 900) << "it was held until its SIGKILL";
  EXPECT_LT(MsSince(start), 1900);
}

TEST_F(ExecSupervisorTest, AKilledCommandKeepsWhatItWrote) {
  auto cmd = Start("echo partial; echo 1 >&$TASKRING_PROGRESS_FD; exec sleep 100");
  ASSERT_TRUE(cmd);
  ExecOutcome o;
  ASSERT_FALSE(Drive(*cmd, &o, [&] { return !reports_.empty(); }));
  cmd->Kill();
  ASSERT_TRUE(Drive(*cmd, &o));
  EXPECT_EQ(o.kind, ExecOutcome::Kind::kSignaled);
  EXPECT_EQ(o.code, SIGKILL);
  EXPECT_EQ(o.stdout_data, "partial\n");
}

TEST_F(ExecSupervisorTest, ASupervisorKilledBySigkillIsLostEvenWithItsPipesHeldOpen) {
  // The grandchild outlives the supervisor (only the command's shell has PDEATHSIG) and holds
  // both pipes: Collect must not wait for their EOF.
  auto cmd = Start(WritePid("$PPID", "sup") + "\nsleep 100 &\n" + WritePid("$!", "gc") +
                   "\necho early; echo '5 started' >&$TASKRING_PROGRESS_FD; wait\n");
  ASSERT_TRUE(cmd);
  ExecOutcome o;
  ASSERT_FALSE(Drive(*cmd, &o, [&] { return !reports_.empty(); }));
  const pid_t sup = AwaitPid("sup");
  const pid_t gc = AwaitPid("gc");
  ASSERT_GT(sup, 0);
  ASSERT_GT(gc, 0);
  const auto start = Clock::now();
  ASSERT_EQ(::kill(sup, SIGKILL), 0);
  ASSERT_TRUE(Drive(*cmd, &o));
  EXPECT_LT(MsSince(start), 1000);
  EXPECT_EQ(o.kind, ExecOutcome::Kind::kLost);
  EXPECT_NE(o.detail.find("killed by signal 9"), std::string::npos) << o.detail;
  EXPECT_EQ(o.stdout_data, "early\n");
  EXPECT_TRUE(cmd->fds().empty());
}

TEST_F(ExecSupervisorTest, DestroyingItKillsACommandBlockedOnAFullPipe) {
  auto cmd = Start(WritePid("$$", "cmd") + "; exec yes");  // never pumped: stdout fills up
  ASSERT_TRUE(cmd);
  const pid_t pid = AwaitPid("cmd");
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto start = Clock::now();
  cmd.reset();
  EXPECT_LT(MsSince(start), 1000);
  EXPECT_TRUE(ProcessGone(pid)) << "no job process outlives its SupervisedCommand";
}

// The protocol on its own, fed in pieces as a pipe delivers it.
TEST(ProgressReaderTest, ReportsSplitAcrossReadsAndCrlfAreWhole) {
  ProgressReader r;
  ExecProgress p;
  EXPECT_FALSE(r.Take(&p));
  const std::string in = "1\n05 with  spaces \r\n100\n";
  for (char c : in) r.Add(&c, 1);
  ASSERT_TRUE(r.Take(&p));
  EXPECT_EQ(p.percent, 100);
  EXPECT_EQ(p.message, "");
  EXPECT_FALSE(r.Take(&p)) << "each report once";
  r.Add("5 with  spaces \r\n", 17);
  ASSERT_TRUE(r.Take(&p));
  EXPECT_EQ(p.percent, 5);
  EXPECT_EQ(p.message, "with  spaces ");
  r.Add("6 tab\there\n", 11);
  ASSERT_TRUE(r.Take(&p));
  EXPECT_EQ(p.message, "tab\there");
  EXPECT_EQ(r.malformed(), 0u);
}

TEST(ProgressReaderTest, AnOverlongLineIsCutAtACharacterBoundary) {
  ProgressReader r;
  ExecProgress p;
  // 199 ASCII bytes, then "é" (2 bytes) straddles the 200-byte cut: it goes whole.
  std::string line = "60 " + std::string(199, 'a') + "\xc3\xa9" + std::string(1 << 20, 'b') + "\n";
  r.Add(line.data(), line.size());
  ASSERT_TRUE(r.Take(&p));
  EXPECT_EQ(p.percent, 60);
  EXPECT_EQ(p.message, std::string(199, 'a'));
  line = "61 " + std::string(500, 'c') + "\n";
  r.Add(line.data(), line.size());
  ASSERT_TRUE(r.Take(&p));
  EXPECT_EQ(p.message, std::string(kMaxProgressMessageBytes, 'c'));
  EXPECT_EQ(r.malformed(), 0u);
}

TEST(ProgressReaderTest, ALineWithoutANewlineIsNoReport) {
  ProgressReader r;
  ExecProgress p;
  r.Add("50 half", 7);
  EXPECT_FALSE(r.Take(&p));
  r.Add("way\n", 4);
  ASSERT_TRUE(r.Take(&p));
  EXPECT_EQ(p.message, "halfway");
}

TEST(ProgressReaderTest, ControlCharactersAndBadNumbersAreMalformed) {
  ProgressReader r;
  ExecProgress p;
  const std::string in = std::string("1 nul\0here\n", 11) + "2 del\x7f\n" + "0x10\n" + "+5\n" +
                         "5%\n" + "3  \n" + "\n" + "100 ok\n";
  r.Add(in.data(), in.size());
  ASSERT_TRUE(r.Take(&p));
  EXPECT_EQ(p.percent, 100);
  EXPECT_EQ(r.malformed(), 6u) << "\"3  \" is 3 with the message \" \"";
}

}  // namespace
}  // namespace taskring::cli
