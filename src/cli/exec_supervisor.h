// `taskring worker --exec`: each job's shell command runs under a small supervisor process that
// ties the command's life, and the life of everything the command starts, to the worker's.
// See exec_supervisor.cc for why it is built this way.
//
// What a command gives back:
// - its stdout is the job's result: captured, at most Spec::max_stdout bytes kept;
// - its stderr passes through to the worker's stderr; its last lines come back in the outcome
//   (the worker makes them a failed attempt's error);
// - progress, while it runs: lines "PERCENT [MESSAGE]" written to the descriptor named by
//   TASKRING_PROGRESS_FD in its environment (ProgressReader below has the exact rules), e.g.
//     echo "40 parsing" >&$TASKRING_PROGRESS_FD
#ifndef TASKRING_CLI_EXEC_SUPERVISOR_H_
#define TASKRING_CLI_EXEC_SUPERVISOR_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "taskring/status.h"

namespace taskring::cli {

// The command's progress descriptor, as TASKRING_PROGRESS_FD says. One digit: `>&N` in a POSIX
// shell (dash) takes only single-digit descriptors.
inline constexpr int kProgressFd = 3;
inline constexpr size_t kMaxProgressMessageBytes = 200;
inline constexpr size_t kDefaultMaxStdout = 64 * 1024;  // `taskring worker --max-result`
inline constexpr size_t kMaxMaxStdout = 16 << 20;       // the largest --max-result

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
  // What the command wrote to its stdout, byte for byte, cut at Spec::max_stdout.
  std::string stdout_data;
  // It wrote more than Spec::max_stdout: an error of the attempt (the rest was read and dropped,
  // so the command never blocked on it).
  bool stdout_overflow = false;
  // Lines on the progress descriptor that were not reports (ProgressReader::malformed()).
  uint64_t progress_malformed = 0;
};

// A progress report.
struct ExecProgress {
  int percent = 0;      // 0..100
  std::string message;  // may be empty; at most kMaxProgressMessageBytes
};

// Turns the bytes a command writes on its progress descriptor into reports. The protocol:
// - one report per line, ending in '\n' (a last line without one is ignored); a '\r' before the
//   '\n' is dropped;
// - the line is PERCENT, an integer 0..100 in 1 to 3 ASCII digits, then either nothing or one
//   space and MESSAGE, the rest of the line;
// - MESSAGE keeps its first kMaxProgressMessageBytes bytes (cut back to a UTF-8 character
//   boundary); of a longer line, the rest is dropped unread;
// - any other line (empty, "40%", "101", " 5", a control character other than tab) is ignored
//   and counted in malformed().
// Memory is bounded whatever is written: a line's first kKeepBytes are kept, no more.
class ProgressReader {
 public:
  void Add(const char* p, size_t n);
  // The newest report since the last call (older ones since then are dropped); false if none.
  bool Take(ExecProgress* latest);
  [[nodiscard]] uint64_t malformed() const { return malformed_; }

 private:
  // The longest line that is kept whole: "100 ", a message, '\r'.
  static constexpr size_t kKeepBytes = 4 + kMaxProgressMessageBytes + 1;
  void EndLine();

  std::string line_;  // the current line, its first kKeepBytes
  bool cut_ = false;  // the current line is longer than line_
  ExecProgress latest_;
  bool fresh_ = false;  // latest_ not taken yet
  uint64_t malformed_ = 0;
};

// One command under its supervisor. Single-threaded use (the worker's main loop), no threads of
// its own: the caller polls fds() and calls Pump, TakeProgress and Collect as they become
// readable, e.g.
//   for (;;) {
//     poll(cmd->fds() as POLLIN, ...);
//     cmd->Pump();
//     if (cmd->TakeProgress(&p)) ...;
//     if (cmd->Collect(&outcome)) break;
//   }
class SupervisedCommand {
 public:
  struct Spec {
    std::string command;           // run as /bin/sh -c COMMAND
    std::string stdin_data;        // written to the command's stdin, which is then closed
    std::vector<std::string> env;  // "NAME=value" set in the command's environment
    // Bytes of the command's stdout kept as ExecOutcome::stdout_data; writing more sets
    // stdout_overflow. 0: any output at all is an overflow.
    size_t max_stdout = kDefaultMaxStdout;
  };

  // Forks the supervisor, which starts the command in a process group of its own, with its
  // stdout and TASKRING_PROGRESS_FD (kProgressFd) on pipes read by this object and its stderr
  // passing through the supervisor to the worker's.
  [[nodiscard]] static Status Start(const Spec& spec, std::unique_ptr<SupervisedCommand>* out);
  // A command still running is killed (SIGKILL, with everything it started) and the supervisor
  // reaped: no job process outlives its SupervisedCommand.
  ~SupervisedCommand();
  SupervisedCommand(const SupervisedCommand&) = delete;
  SupervisedCommand& operator=(const SupervisedCommand&) = delete;

  // What to poll for POLLIN: the supervisor's socket (readable when the outcome is in: call
  // Collect) and, while they are open, the stdout and progress pipes (readable: call Pump).
  // A pipe leaves the list at its EOF (the command closed it); the list is empty once
  // collected. At most 3 descriptors.
  [[nodiscard]] std::vector<int> fds() const;
  // Reads what waits on the stdout and progress pipes, without blocking and at most kPumpBytes
  // from each, so a command that writes without pause cannot hold up the caller's loop. The
  // caller must keep pumping while the command runs: a command whose pipe is full blocks.
  void Pump();
  // The newest progress report since the last call; false if none came. Also works after
  // Collect, for a report made just before the command ended.
  bool TakeProgress(ExecProgress* latest) { return progress_.Take(latest); }
  // SIGTERM to the command's process group and to any process it left behind.
  void Terminate() { Send('T'); }
  // SIGKILL to the command's process group and to every process it started, until none is left.
  void Kill() { Send('K'); }
  // Reads the outcome, drains the pipes (what the command wrote last) and reaps the supervisor.
  // False while the command still runs.
  bool Collect(ExecOutcome* out);

 private:
  static constexpr size_t kPumpBytes = 256 * 1024;

  SupervisedCommand(pid_t pid, int ctl, int out, int progress, size_t max_stdout)
      : pid_(pid), fd_(ctl), out_fd_(out), progress_fd_(progress), max_stdout_(max_stdout) {}
  void Send(char op);
  // Reads up to `budget` bytes from *fd; closes it (and sets it to -1) at its EOF or an error.
  void ReadPipe(int* fd, size_t budget);

  pid_t pid_;
  int fd_;           // the socket to the supervisor
  int out_fd_;       // the command's stdout; -1 once closed
  int progress_fd_;  // its progress descriptor; -1 once closed
  size_t max_stdout_;
  bool done_ = false;
  std::string stdout_;  // at most max_stdout_ bytes
  bool overflow_ = false;
  ProgressReader progress_;
};

}  // namespace taskring::cli

#endif  // TASKRING_CLI_EXEC_SUPERVISOR_H_
