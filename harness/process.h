// Child processes for the tests, the crash battery and the load tool: fork + exec of a binary
// with its standard streams, environment and one inherited descriptor chosen by the caller, and
// a taskringd child that is started, awaited (--ready-fd) and stopped by PID.
//
// Never linked into product binaries (taskringd, taskring): the operator tools start nothing
// like this. Built when the tests or the benchmarks are (harness/CMakeLists.txt).
//
// Thread-safety: the functions may be called from any thread. Everything the child needs
// (argv, envp, paths) is built before fork(), so the child only calls async-signal-safe
// functions between fork() and exec, which is what a multi-threaded parent requires.
#ifndef TASKRING_HARNESS_PROCESS_H_
#define TASKRING_HARNESS_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "taskring/status.h"

namespace taskring::harness {

struct SpawnOptions {
  // Descriptors the child gets as stdin, stdout and stderr; -1 inherits the parent's.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // When stderr_fd is -1 and this is set: the child's stderr is appended to this file (created
  // 0600), so a restarted process adds to the same log.
  std::string stderr_path;
  // "NAME=value" entries added to the parent's environment (an entry replaces the parent's
  // variable of the same name).
  std::vector<std::string> env;
  // One more descriptor the child keeps across exec (its close-on-exec flag is cleared in the
  // child only); -1 for none.
  int keep_fd = -1;
};

// Forks and execs argv[0], a path (no PATH search, no shell). Returns the child's pid, or -1 if
// fork failed. A child whose exec fails exits with status 127.
pid_t Spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// Waits for pid (retrying EINTR): its exit code, 128 + signal if a signal ended it, -1 on error.
int Wait(pid_t pid);

// SIGKILL, then Wait.
int KillAndWait(pid_t pid);

// SIGTERM; if pid has not exited after `grace`, SIGKILL. Then Wait.
int TerminateAndWait(pid_t pid, std::chrono::milliseconds grace);

// A taskringd child process. Start() passes `--ready-fd N` (taskringd writes one line "ready
// ..." to N once the queue serves, then closes it) and waits for that line; so the caller's
// args must not contain --ready-fd. Not copyable; the destructor stops a daemon still running
// (Stop()). Not thread-safe: one owner.
class DaemonProcess {
 public:
  struct Options {
    std::string log_path;          // stderr appended here ("" = inherited)
    std::vector<std::string> env;  // as SpawnOptions::env
    std::chrono::milliseconds ready_timeout{10000};
    std::chrono::milliseconds stop_grace{30000};  // SIGTERM -> SIGKILL in Stop()
  };

  DaemonProcess() = default;
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess();

  // Starts `binary` (taskringd's path) with `args` and waits for readiness. IOError if the
  // daemon exited during start (its exit code in the message) or did not become ready within
  // the timeout (then it is SIGKILLed). Must not be called while a daemon is running.
  Status Start(const std::string& binary, std::vector<std::string> args, const Options& options);
  // SIGTERM, wait up to options.stop_grace, then SIGKILL: the exit code (or 128 + signal);
  // -1 if none was running.
  int Stop();
  // SIGKILL and wait: the crash battery's "die at a random point".
  int Kill();

  pid_t pid() const { return pid_; }                             // -1 when not running
  const std::string& ready_line() const { return ready_line_; }  // "ready serving queue ..."

 private:
  pid_t pid_ = -1;
  std::chrono::milliseconds stop_grace_{30000};
  std::string ready_line_;
};

}  // namespace taskring::harness

#endif  // TASKRING_HARNESS_PROCESS_H_
