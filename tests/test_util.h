// Helpers shared by the tests: temp dirs, unique queue names, a real taskringd child process,
// and running CLI commands with captured output.
#ifndef TASKRING_TESTS_TEST_UTIL_H_
#define TASKRING_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "harness/process.h"
#include "taskring/producer.h"
#include "taskring/status.h"
#include "taskring/worker.h"

// Status assertions that print the status on failure and accept `<< "context"`.
#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::taskring::test::IsOk, expr)
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::taskring::test::IsOk, expr)

namespace taskring::test {

inline ::testing::AssertionResult IsOk(const char* expr, const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr << ": " << s.ToString();
}

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "t<pid>_<n>_<tag>": unique across concurrently running test binaries.
std::string UniqueQueueName(const std::string& tag);

std::string BinDir();  // build directory holding taskringd and taskring

// A taskringd child process for a test: harness::DaemonProcess with the tests' defaults (a
// small --capacity 1024 and --metrics-listen 127.0.0.1:0, unless the test chooses), stderr
// appended to log_path(). Start() waits for the daemon's --ready-fd line.
class Daemon {
 public:
  Daemon(std::string queue, std::string dir, std::vector<std::string> extra_args = {});
  // Extra "NAME=value" environment entries for the daemon (e.g. LD_PRELOAD of a fault shim).
  void SetEnv(std::vector<std::string> env) { env_ = std::move(env); }
  // Leaves --metrics-listen at taskringd's default (otherwise: port 0, as tests run side by side).
  void UseDefaultMetricsAddress() { default_metrics_ = true; }
  ~Daemon();  // SIGKILLs a daemon still running and removes the segment
  // Starts and waits (up to 10 s) until the queue serves. Fails if the daemon exits.
  ::testing::AssertionResult Start();
  int Stop();   // SIGTERM, wait (SIGKILL after 30 s); returns the exit code (or 128+signal)
  void Kill();  // SIGKILL, wait
  pid_t pid() const { return process_.pid(); }
  // What the daemon wrote to its --ready-fd: "ready serving queue NAME[, metrics ADDR]".
  const std::string& ready_line() const { return process_.ready_line(); }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  std::string queue_, dir_;
  std::vector<std::string> extra_;
  std::vector<std::string> env_;
  bool default_metrics_ = false;
  std::string log_path_;
  harness::DaemonProcess process_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Forks and execs argv (no shell) with stdin, stdout and stderr (unless err_fd < 0) on the
// given descriptors; returns the child's pid. The caller closes its copies. (harness::Spawn.)
pid_t Spawn(std::vector<std::string> argv, int in_fd, int out_fd, int err_fd = -1);

// Runs argv (no shell) with `input` on stdin; waits up to timeout_s (then SIGKILL, exit -1).
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         int timeout_s = 60);

// Opens a producer / worker on `queue`; null, with a test failure recorded, if that fails.
std::unique_ptr<Producer> OpenProducer(const std::string& queue);
std::unique_ptr<Worker> OpenWorker(const std::string& queue);

// A counter or gauge of `taskring stat --queue QUEUE --json`; UINT64_MAX if it cannot be read.
uint64_t StatsCounter(const std::string& queue, const std::string& name);

// Waits for a child; returns its exit code or 128+signal.
int WaitChild(pid_t pid);

// Job ids start from the clock in microseconds (never reused on a host), not from 1: this
// rewrites every such id (a number of 13 or more digits) in CLI output as N, counted from the
// first id it ever saw (1), so tests can state the order and the duplicates they expect. Keep
// one per queue.
class IdNumbers {
 public:
  std::string operator()(const std::string& text);
  uint64_t first() const { return first_; }

 private:
  uint64_t first_ = 0;
};

}  // namespace taskring::test

#endif  // TASKRING_TESTS_TEST_UTIL_H_
