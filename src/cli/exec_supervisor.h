// `taskring worker --exec`: each job's shell command runs under a small supervisor process that
// ties the command's life, and the life of everything the command starts, to the worker's.
// See exec_supervisor.cc for why it is built this way.
#ifndef TASKRING_CLI_EXEC_SUPERVISOR_H_
#define TASKRING_CLI_EXEC_SUPERVISOR_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "taskring/status.h"

namespace taskring::cli {

// How a supervised command ended.
struct ExecOutcome {
  enum class Kind : uint32_t {
    kExited = 1,    // code: its exit status (127: /bin/sh could not run it)
    kSignaled = 2,  // code: the signal that killed it
    kLost = 3,      // the supervisor could not run it or died itself; `detail` says why
  };
  Kind kind = Kind::kLost;
  int code = 0;
  // The last lines the command wrote to its stderr (at most 4 lines / 1 KiB), without the
  // final newline. Everything it writes to stderr also passes through to the worker's stderr.
  std::string stderr_tail;
  std::string detail;
};

// One command under its supervisor. Single-threaded use (the worker's main loop).
class SupervisedCommand {
 public:
  struct Spec {
    std::string command;           // run as /bin/sh -c COMMAND
    std::string stdin_data;        // written to the command's stdin, which is then closed
    std::vector<std::string> env;  // "NAME=value" set in the command's environment
  };

  // Forks the supervisor, which starts the command in a process group of its own. The
  // command's stdout is the worker's; its stderr passes through the supervisor to the worker's.
  [[nodiscard]] static Status Start(const Spec& spec, std::unique_ptr<SupervisedCommand>* out);
  // A command still running is killed (SIGKILL, with everything it started) and the supervisor
  // reaped: no job process outlives its SupervisedCommand.
  ~SupervisedCommand();
  SupervisedCommand(const SupervisedCommand&) = delete;
  SupervisedCommand& operator=(const SupervisedCommand&) = delete;

  // Readable (POLLIN) when the outcome is in: poll it, then call Collect.
  [[nodiscard]] int fd() const { return fd_; }
  // SIGTERM to the command's process group and to any process it left behind.
  void Terminate() { Send('T'); }
  // SIGKILL to the command's process group and to every process it started, until none is left.
  void Kill() { Send('K'); }
  // Reads the outcome and reaps the supervisor. False while the command still runs.
  bool Collect(ExecOutcome* out);

 private:
  SupervisedCommand(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  void Send(char op);

  pid_t pid_;
  int fd_;
  bool done_ = false;
};

}  // namespace taskring::cli

#endif  // TASKRING_CLI_EXEC_SUPERVISOR_H_
