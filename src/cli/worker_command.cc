// taskring worker: runs jobs by printing them or by running a shell command per job.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "taskring/worker.h"
#include "util/flags.h"

namespace taskring::cli {
namespace {

Worker* g_worker = nullptr;  // for the signal handler; Stop() only stores an atomic

void OnStopSignal(int) {
  if (g_worker != nullptr) g_worker->Stop();
}

// Runs `cmd` with /bin/sh, payload on its stdin. OK iff it exits 0.
Status RunCommand(const std::string& cmd, const Job& job) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::IOError(std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(in[0]);
    ::close(in[1]);
    return Status::IOError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::setenv("TASKRING_JOB_ID", std::to_string(job.id()).c_str(), 1);
    ::setenv("TASKRING_ATTEMPT", std::to_string(job.attempt()).c_str(), 1);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(in[0]);
  std::string_view p = job.payload();
  while (!p.empty()) {
    const ssize_t n = ::write(in[1], p.data(), p.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // the command does not read its stdin: fine
    p.remove_prefix(static_cast<size_t>(n));
  }
  ::close(in[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::OK();
  return Status::IOError("command failed");
}

}  // namespace

int WorkerCommand(int argc, char** argv) {
  std::string queue, exec;
  bool print = false;
  uint64_t max_jobs = 0, idle_exit = 0, threads = 1;
  util::FlagSet flags(
      "taskring worker --queue NAME (--print | --exec CMD) [--max-jobs N] [--idle-exit SECONDS]",
      "Takes jobs and runs them. --print writes each payload as one line to stdout (flushed)\n"
      "before completing the job; --exec runs CMD with /bin/sh, the payload on its stdin and\n"
      "TASKRING_JOB_ID / TASKRING_ATTEMPT in its environment: exit 0 completes the job, anything\n"
      "else fails it (it is retried up to its max attempts). Stops after --max-jobs jobs, after\n"
      "--idle-exit seconds without a job, or on SIGTERM/SIGINT (finishing the job in hand).");
  flags.String("queue", &queue, "queue name");
  flags.Bool("print", &print, "print each payload as a line");
  flags.String("exec", &exec, "shell command to run per job");
  flags.Uint("max-jobs", &max_jobs, 0, UINT64_MAX, "stop after N jobs (0 = no limit)");
  flags.Uint("idle-exit", &idle_exit, 0, 86400, "stop after this many idle seconds (0 = never)");
  flags.Uint("threads", &threads, 1, 256, "jobs run in parallel in this process (--exec) (1)");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error("worker", std::string(s.message()) + " (see --help)", 2);
  if (queue.empty()) return Error("worker", "--queue is required (see --help)", 2);
  if (print == !exec.empty()) {
    return Error("worker", "give exactly one of --print or --exec CMD (see --help)", 2);
  }
  if (print && threads > 1) return Error("worker", "--threads needs --exec", 2);

  WorkerOptions wopts;
  wopts.queue = queue;
  std::unique_ptr<Worker> worker;
  s = Worker::Open(wopts, &worker);
  if (!s.ok()) return Error("worker", s.ToString(), 1);
  g_worker = worker.get();
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  RunOptions ropts;
  ropts.max_jobs = max_jobs;
  ropts.idle_exit_ms = static_cast<uint32_t>(idle_exit * 1000);
  ropts.threads = static_cast<uint32_t>(threads);
  Worker::Handler handler;
  if (print) {
    handler = [](const Job& job) {
      std::string line(job.payload());
      line += '\n';
      if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
          std::fflush(stdout) != 0) {
        return Status::IOError("stdout closed");
      }
      return Status::OK();
    };
  } else {
    handler = [&exec](const Job& job) { return RunCommand(exec, job); };
  }
  s = worker->Run(handler, ropts);
  g_worker = nullptr;
  if (!s.ok()) return Error("worker", s.ToString(), 1);
  return 0;
}

}  // namespace taskring::cli
