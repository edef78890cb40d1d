// taskring worker: runs jobs by printing them or by running a shell command per job.
//
// One thread runs everything: it takes jobs, starts each command under its supervisor
// (cli/exec_supervisor.h), waits on the supervisors' sockets and the commands' stdout and
// progress pipes, enforces --timeout and the stop grace, touches the leases of jobs in hand,
// reports outcomes, and reconnects when the daemon goes away (--wait). Take/Complete/Fail/Touch
// thus all come from one thread, as Worker wants.
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/exec_supervisor.h"
#include "cli/text.h"
#include "taskring/worker.h"
#include "util/flags.h"
#include "util/job_meta.h"

namespace taskring::cli {
namespace {

constexpr uint64_t kShortKillGraceMs =
    2000;  // --timeout, revoked lease: SIGTERM, SIGKILL this later
// Of a failed attempt's error text: what the store keeps.
constexpr size_t kMaxErrorBytes = 2048;

std::atomic<int> g_stop_signals{0};  // SIGTERM/SIGINT received (lock-free: set in the handler)
static_assert(std::atomic<int>::is_always_lock_free);

void OnStopSignal(int) { g_stop_signals.fetch_add(1, std::memory_order_relaxed); }

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// One write per line, so lines from the worker and the commands' stderr do not interleave
// within a line.
void LogLine(const std::string& msg) {
  const std::string line = "taskring worker: " + msg + "\n";
  const char* p = line.data();
  size_t n = line.size();
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(sig);
}

std::string Seconds(uint64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

// Quoted, on one line, escaped as payloads are everywhere else (text.h).
std::string Quote(const std::string& s) { return "\"" + Printable(s, s.size()) + "\""; }

struct Config {
  std::string queue, exec;
  std::vector<std::string> types;  // --type: only these job types are taken
  bool print = false, quiet = false;
  uint64_t max_jobs = 0, idle_exit_s = 0, threads = 1, timeout_s = 0, grace_s = 10, wait_s = 0;
  uint64_t max_result = kDefaultMaxStdout;  // bytes of a command's stdout kept as the result
};

// A job whose command is running.
struct Running {
  std::shared_ptr<Worker> worker;  // the connection it was taken on (it may be a dead daemon's)
  Job job;
  std::unique_ptr<SupervisedCommand> cmd;
  uint64_t start_ms = 0;
  uint64_t deadline_ms = 0;  // --timeout or the job's own timeout, whichever is sooner; 0 = none
  uint64_t timeout_ms = 0;   // the limit behind deadline_ms
  uint64_t term_at_ms = 0;   // SIGTERM due (the worker is stopping: grace is over); 0 = none
  uint64_t kill_at_ms = 0;   // SIGKILL due (after a SIGTERM); 0 = none
  bool timed_out = false;
  bool stopped = false;    // SIGTERMed because the worker is stopping
  bool revoked = false;    // SIGTERMed because its lease was revoked
  bool cancelled = false;  // SIGTERMed because someone cancelled the job (taskring job cancel)
  bool killed = false;
};

// A header name as an environment variable: TASKRING_HEADER_ and the name upper-cased, every
// character other than A-Z and 0-9 turned into '_' ("trace-id" -> TASKRING_HEADER_TRACE_ID).
std::string HeaderVariable(std::string_view name) {
  std::string var = "TASKRING_HEADER_";
  for (char c : name) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    var += (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
  }
  return var;
}

// What an --exec command learns about its job besides the payload on stdin.
std::vector<std::string> JobEnvironment(const Job& job) {
  std::vector<std::string> env = {"TASKRING_JOB_ID=" + std::to_string(job.id()),
                                  "TASKRING_ATTEMPT=" + std::to_string(job.attempt()),
                                  "TASKRING_TYPE=" + job.type(),
                                  "TASKRING_PRIORITY=" + std::to_string(job.priority()),
                                  "TASKRING_TIMEOUT_MS=" + std::to_string(job.timeout_ms())};
  // Names that map to the same variable (a repeated name, "a.b" and "a-b"): the first wins, as
  // with Job::header().
  std::vector<std::string> seen;
  for (const auto& [name, value] : job.headers()) {
    std::string var = HeaderVariable(name);
    if (std::find(seen.begin(), seen.end(), var) != seen.end()) continue;
    seen.push_back(var);
    env.push_back(var + "=" + value);
  }
  return env;
}

class WorkerLoop {
 public:
  explicit WorkerLoop(const Config& c) : c_(c) {}
  int Run();

 private:
  bool Connect(uint64_t now);  // one bounded attempt; false while there is no daemon yet
  void Lost(const Status& why, uint64_t now);
  void HandleJob(const Job& job, uint64_t now);
  void Report(Running& r, const ExecOutcome& o, uint64_t now);
  void Progress(Running& r, int percent, std::string_view message);
  void Outcome(const std::shared_ptr<Worker>& w, const Job& job, bool success,
               std::string_view result, std::string_view error, std::string line);
  void Stop(uint64_t now);
  void PollCommands(int timeout_ms);

  const Config& c_;
  std::shared_ptr<Worker> worker_;  // null while disconnected
  uint64_t wait_deadline_ = 0;      // while disconnected: give up then
  bool was_lost_ = false;
  Status lost_why_;
  std::vector<std::unique_ptr<Running>> running_;
  uint64_t taken_ = 0;
  uint64_t idle_since_ = 0;
  bool stopping_ = false;
  Status fatal_;
};

bool WorkerLoop::Connect(uint64_t now) {
  const uint64_t left = wait_deadline_ > now ? wait_deadline_ - now : 0;
  WorkerOptions o;
  o.queue = c_.queue;
  o.types = c_.types;
  // Bounded attempts, so commands in hand are still watched while the daemon is away.
  o.attach_timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(left, 100));
  o.wait_for_daemon_ms = o.attach_timeout_ms;
  if (c_.wait_s == 0 && !was_lost_) o.attach_timeout_ms = WorkerOptions().attach_timeout_ms;
  // A command costs a fork and an exec: spinning for the next job would only burn a core.
  if (!c_.print) o.spin_iterations = 0;
  std::unique_ptr<Worker> w;
  const Status s = Worker::Open(o, &w);
  if (s.ok()) {
    worker_ = std::move(w);
    if (was_lost_) LogLine("reconnected to the daemon for queue '" + c_.queue + "'");
    idle_since_ = NowMs();
    return true;
  }
  const bool retry = s.IsNotFound() || s.IsClosed() || s.IsNotReady();
  if (retry && NowMs() < wait_deadline_) return false;
  if (!retry || c_.wait_s == 0) {
    fatal_ = retry && was_lost_ ? lost_why_ : s;
  } else {
    LogLine("no daemon for queue " + c_.queue + " within " + std::to_string(c_.wait_s) +
            " s; exiting");
  }
  Stop(NowMs());
  return false;
}

void WorkerLoop::Lost(const Status& why, uint64_t now) {
  worker_.reset();  // jobs in hand keep their own reference to report through
  was_lost_ = true;
  lost_why_ = why;
  wait_deadline_ = now + c_.wait_s * 1000;
  if (c_.wait_s != 0) {
    LogLine("lost the daemon for queue '" + c_.queue + "' (" + why.ToString() +
            "); waiting up to " + std::to_string(c_.wait_s) + " s for it");
  }
}

// A stop lets the jobs in hand finish for --grace seconds; then their commands get SIGTERM, and
// SIGKILL kShortKillGraceMs later (see Run).
void WorkerLoop::Stop(uint64_t now) {
  if (stopping_) {  // a second SIGTERM/SIGINT: no more grace
    for (auto& r : running_) r->kill_at_ms = now;
    return;
  }
  stopping_ = true;
  for (auto& r : running_) r->term_at_ms = now + c_.grace_s * 1000;
}

// Completes the job (its result: `result`) or fails the attempt (its error: `error`), and logs
// `line` with what became of the outcome.
void WorkerLoop::Outcome(const std::shared_ptr<Worker>& w, const Job& job, bool success,
                         std::string_view result, std::string_view error, std::string line) {
  const Status s = success ? w->Complete(job, result) : w->Fail(job, error);
  bool always = false;
  if (s.IsStaleLease()) {
    line += "; outcome rejected: the lease had been revoked and the job handed out again";
    always = true;
  } else if (s.IsInvalidArgument() && success) {
    // A result over the daemon's --max-result (smaller than this worker's): the library failed
    // the attempt instead, saying so in the job's error.
    line += "; attempt failed instead: " + std::string(s.message());
    always = true;
  } else if (!s.ok()) {
    line += "; outcome not recorded (" + s.ToString() +
            "): the job will be redelivered by the next daemon";
    always = true;
    if (s.IsClosed() || s.IsNotReady()) {
      if (w == worker_) Lost(s, NowMs());
    } else if (fatal_.ok()) {
      fatal_ = s;
      Stop(NowMs());
    }
  }
  // --print: stdout is the output, stderr only hears about anomalies.
  if (always || (!c_.quiet && !c_.print)) LogLine(line);
}

void WorkerLoop::Report(Running& r, const ExecOutcome& o, uint64_t now) {
  const bool success =
      o.kind == ExecOutcome::Kind::kExited && o.code == 0 && !r.timed_out && !o.stdout_overflow;
  // How it ended, as the log line says it: "timeout=1s signal=SIGTERM (worker stopping)".
  std::string how;
  if (r.timed_out) {
    how += " timeout=" + (r.timeout_ms % 1000 == 0 ? std::to_string(r.timeout_ms / 1000) + "s"
                                                   : std::to_string(r.timeout_ms) + "ms");
  }
  switch (o.kind) {
    case ExecOutcome::Kind::kExited: how += " exit=" + std::to_string(o.code); break;
    case ExecOutcome::Kind::kSignaled: how += " signal=" + SignalName(o.code); break;
    case ExecOutcome::Kind::kLost: break;
  }
  if (r.stopped) how += " (worker stopping)";
  if (r.revoked) how += " (lease revoked)";
  if (r.cancelled) how += " (cancel requested)";
  if (!how.empty()) how.erase(0, 1);
  // What went wrong besides the command's own failure.
  std::string problem = o.kind == ExecOutcome::Kind::kLost ? o.detail : "";
  if (o.stdout_overflow) {
    problem += (problem.empty() ? "" : "; ") + std::string("stdout exceeded --max-result ") +
               std::to_string(c_.max_result) + " bytes";
  }

  // The job's result and the failed attempt's error, as the library will take them. The error:
  // the worker's reason when it failed the attempt itself, then the command's last stderr lines;
  // just how it ended if there is neither.
  const std::string& result = o.stdout_data;
  std::string error;
  if (!success) {
    auto add = [&error](std::string_view part) {
      if (part.empty()) return;
      if (!error.empty()) error += '\n';
      error += part;
    };
    add(problem);
    if (r.timed_out || r.stopped || r.revoked || r.cancelled) add(how);
    add(o.stderr_tail);
    if (error.empty()) add(how);
    if (error.size() > kMaxErrorBytes) error.resize(kMaxErrorBytes);
  }

  std::string line = "job " + std::to_string(r.job.id()) + " attempt " +
                     std::to_string(r.job.attempt()) + (success ? " completed" : " failed");
  if (!how.empty()) line += " " + how;
  if (!problem.empty()) line += " error=" + Quote(problem);
  line += " duration=" + Seconds(now - r.start_ms);
  if (o.progress_malformed != 0) {
    line += " progress_malformed=" + std::to_string(o.progress_malformed);
  }
  if (!success && !o.stderr_tail.empty()) line += " stderr=" + Quote(o.stderr_tail);
  Outcome(r.worker, r.job, success, result, error, std::move(line));
}

// A running command's newest progress report (the protocol: cli/exec_supervisor.h). A report
// for a lease already gone changes nothing (StaleLease), which is all there is to do about it.
void WorkerLoop::Progress(Running& r, int percent, std::string_view message) {
  (void)r.worker->ReportProgress(r.job, static_cast<uint32_t>(percent), message);
}

void WorkerLoop::HandleJob(const Job& job, uint64_t now) {
  ++taken_;
  idle_since_ = now;
  if (c_.print) {
    std::string line(job.payload());
    line += '\n';
    const bool ok =
        std::fwrite(line.data(), 1, line.size(), stdout) == line.size() && std::fflush(stdout) == 0;
    Outcome(worker_, job, ok, /*result=*/"", /*error=*/ok ? "" : "stdout is closed",
            "job " + std::to_string(job.id()) + " attempt " + std::to_string(job.attempt()) +
                (ok ? " printed" : " failed: stdout is closed"));
    return;
  }
  auto r = std::make_unique<Running>();
  r->worker = worker_;
  r->job = job;
  r->start_ms = now;
  // The job's own limit (EnqueueOptions::timeout_ms, or the queue's default) binds the command
  // too: past it the library stops extending the lease, so the job would be handed out again.
  r->timeout_ms = c_.timeout_s * 1000;
  if (job.timeout_ms() != 0 && (r->timeout_ms == 0 || job.timeout_ms() < r->timeout_ms)) {
    r->timeout_ms = job.timeout_ms();
  }
  if (r->timeout_ms != 0) r->deadline_ms = now + r->timeout_ms;
  SupervisedCommand::Spec spec;
  spec.command = c_.exec;
  spec.stdin_data = std::string(job.payload());
  spec.env = JobEnvironment(job);
  spec.max_stdout = c_.max_result;
  const Status s = SupervisedCommand::Start(spec, &r->cmd);
  if (!s.ok()) {
    ExecOutcome o;
    o.detail = "could not start the command: " + s.ToString();
    Report(*r, o, NowMs());
    return;
  }
  if (stopping_) r->term_at_ms = now + c_.grace_s * 1000;  // stopped while it was being taken
  running_.push_back(std::move(r));
}

void WorkerLoop::PollCommands(int timeout_ms) {
  // Each command's supervisor socket and open pipes; running_[i]'s are fds[first[i], first[i+1]).
  std::vector<pollfd> fds;
  std::vector<size_t> first;
  for (auto& r : running_) {
    first.push_back(fds.size());
    for (const int fd : r->cmd->fds()) fds.push_back({fd, POLLIN, 0});
  }
  first.push_back(fds.size());
  if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
  std::vector<std::unique_ptr<Running>> still;
  for (size_t i = 0; i < running_.size(); ++i) {
    Running& r = *running_[i];
    const bool ready = std::any_of(fds.begin() + first[i], fds.begin() + first[i + 1],
                                   [](const pollfd& p) { return p.revents != 0; });
    ExecOutcome o;
    bool done = false;
    if (ready) {
      r.cmd->Pump();
      done = r.cmd->Collect(&o);
      // Also the last report of a command that just ended: it tells how far a failed one got.
      ExecProgress progress;
      if (r.cmd->TakeProgress(&progress)) Progress(r, progress.percent, progress.message);
    }
    if (done) {
      Report(r, o, NowMs());
      idle_since_ = NowMs();
    } else {
      still.push_back(std::move(running_[i]));
    }
  }
  // Report may have stopped the loop (fatal error): the new stop applies to `still` too.
  const bool terminate_all = stopping_;
  running_ = std::move(still);
  if (terminate_all) {
    for (auto& r : running_) {
      if (r->term_at_ms == 0) r->term_at_ms = NowMs() + c_.grace_s * 1000;
    }
  }
}

int WorkerLoop::Run() {
  int handled_signals = 0;
  idle_since_ = NowMs();
  wait_deadline_ = NowMs() + c_.wait_s * 1000;
  uint64_t next_touch = 0;
  for (;;) {
    uint64_t now = NowMs();
    const int signals = g_stop_signals.load(std::memory_order_relaxed);
    if (signals != handled_signals) {
      handled_signals = signals;
      Stop(now);
    }
    for (auto& r : running_) {
      if (r->term_at_ms != 0 && !r->stopped && now >= r->term_at_ms) {
        r->stopped = true;
        r->cmd->Terminate();
        const uint64_t at = now + kShortKillGraceMs;
        r->kill_at_ms = r->kill_at_ms == 0 ? at : std::min(r->kill_at_ms, at);
      }
      if (r->deadline_ms != 0 && !r->timed_out && now >= r->deadline_ms) {
        r->timed_out = true;
        r->cmd->Terminate();
        const uint64_t at = now + kShortKillGraceMs;
        r->kill_at_ms = r->kill_at_ms == 0 ? at : std::min(r->kill_at_ms, at);
      }
      // A cancel reaches the command as SIGTERM, once and without a SIGKILL after it: the
      // command decides (exit non-zero: the job ends cancelled; finish and exit 0: completed).
      if (!r->cancelled && !r->timed_out && r->job.cancel_requested()) {
        r->cancelled = true;
        r->cmd->Terminate();
      }
      if (r->kill_at_ms != 0 && !r->killed && now >= r->kill_at_ms) {
        r->cmd->Kill();
        r->killed = true;
      }
    }
    PollCommands(0);
    now = NowMs();
    // Heartbeat: keep the leases of long commands (three touches per lease).
    if (!running_.empty() && now >= next_touch) {
      uint32_t lease = UINT32_MAX;
      for (auto& r : running_) {
        // A revoked lease (this process was stopped past it, say) means the job is someone
        // else's now: stop our copy rather than run it twice at once. The outcome says so.
        if (r->worker->Touch(r->job).IsStaleLease() && !r->revoked) {
          r->revoked = true;
          r->cmd->Terminate();
          const uint64_t at = now + kShortKillGraceMs;
          r->kill_at_ms = r->kill_at_ms == 0 ? at : std::min(r->kill_at_ms, at);
        }
        lease = std::min(lease, r->worker->lease_ms());
      }
      next_touch = now + std::max<uint32_t>(lease / 3, 1);
    }

    if (!worker_ && !stopping_) {
      if (!Connect(now)) continue;
      now = NowMs();  // Connect may have waited; idle_since_ is later than the old `now`
    }
    const bool more = worker_ != nullptr && !stopping_ && fatal_.ok() &&
                      (c_.max_jobs == 0 || taken_ < c_.max_jobs);
    if (!more && running_.empty() && (stopping_ || worker_ != nullptr)) break;
    if (more && running_.empty() && c_.idle_exit_s != 0 && now >= idle_since_ &&
        now - idle_since_ >= c_.idle_exit_s * 1000) {
      break;
    }
    if (more && running_.size() < c_.threads) {
      Job job;
      // Short waits while commands run, so their outcomes are reported promptly.
      const Status s = worker_->Take(&job, running_.empty() ? 100 : 5);
      if (s.IsTimedOut()) continue;
      if (s.IsClosed() || s.IsNotReady()) {
        Lost(s, NowMs());
        continue;
      }
      if (!s.ok()) {
        fatal_ = s;
        Stop(NowMs());
        continue;
      }
      HandleJob(job, NowMs());
      continue;
    }
    // Nothing to take: sleep until a command ends or the next deadline.
    uint64_t wake = now + 100;
    for (auto& r : running_) {
      if (r->deadline_ms != 0 && !r->timed_out) wake = std::min(wake, r->deadline_ms);
      if (r->kill_at_ms != 0 && !r->killed) wake = std::min(wake, r->kill_at_ms);
      if (r->term_at_ms != 0 && !r->stopped) wake = std::min(wake, r->term_at_ms);
    }
    if (!running_.empty()) wake = std::min(wake, next_touch);
    PollCommands(static_cast<int>(wake > now ? wake - now : 0));
  }
  if (!fatal_.ok()) return Error("worker", fatal_.ToString(), 1);
  return 0;
}

}  // namespace

int WorkerCommand(int argc, char** argv) {
  Config c;
  util::FlagSet flags(
      "taskring worker --queue NAME (--print | --exec CMD) [--threads N] [--timeout SECONDS]\n"
      "                       [--grace SECONDS] [--max-result BYTES] [--wait SECONDS]\n"
      "                       [--max-jobs N] [--idle-exit SECONDS] [--type T]... [--quiet]",
      "Takes jobs and runs them. --print writes each payload as one line to stdout (flushed)\n"
      "before completing the job. --exec runs CMD with /bin/sh per job, the payload on its stdin:\n"
      "exit 0 completes the job, anything else fails it (it is retried up to its max attempts,\n"
      "then dead-lettered). The command's environment also holds:\n"
      "  TASKRING_JOB_ID, TASKRING_ATTEMPT   the job's id and attempt (1 on the first run)\n"
      "  TASKRING_TYPE                       its type (taskring enqueue --type); empty if none\n"
      "  TASKRING_PRIORITY                   its priority, 0 to 9\n"
      "  TASKRING_TIMEOUT_MS                 its execution limit in ms; 0: none\n"
      "  TASKRING_PROGRESS_FD                where to report progress (below); always 3\n"
      "  TASKRING_HEADER_<NAME>              each header (--header K=V): NAME is the header's\n"
      "                                      name upper-cased, every character other than A-Z\n"
      "                                      and 0-9 turned into '_' (trace-id: TRACE_ID); of\n"
      "                                      names that map to one variable, the first wins\n"
      "\n"
      "--type T (repeatable, up to 16): take only jobs of these types; others are left for other\n"
      "workers. --type '' takes untyped jobs too. Without --type: every job, typed or not.\n"
      "\n"
      "Each command runs in a process group of its own under a small supervisor process: if the\n"
      "worker dies, even by SIGKILL, the command and everything it started (also double-forked\n"
      "or setsid processes) are killed, so a redelivered job never runs twice at once. What a\n"
      "command leaves running when it exits gets SIGTERM, then SIGKILL 1 s later.\n"
      "\n"
      "What the command writes to stdout is the job's result, not the worker's output: up\n"
      "to --max-result bytes (default 65536, at most 16 MiB) are kept; writing more fails the\n"
      "attempt with \"stdout exceeded --max-result N bytes\" (the rest is read and dropped, so\n"
      "the command is not blocked). Its stderr passes through to the worker's stderr, and its\n"
      "last lines (up to 4, 1 KiB) become the error of a failed attempt, after the worker's own\n"
      "reason if the worker failed it (--timeout, a stop, a revoked lease, --max-result).\n"
      "\n"
      "Progress: while it runs, the command may report how far it got by writing lines\n"
      "  PERCENT [MESSAGE]\n"
      "to the descriptor that TASKRING_PROGRESS_FD names, as in\n"
      "  echo \"40 parsing\" >&$TASKRING_PROGRESS_FD\n"
      "PERCENT is an integer 0 to 100 (1 to 3 digits); then either the end of the line or one\n"
      "space and MESSAGE, the rest of the line (its first 200 bytes are kept). Each line must\n"
      "end with a newline; the newest report counts. Other lines (\"40%\", \"101\", control\n"
      "characters) are ignored and counted (progress_malformed=N on the outcome line).\n"
      "Reporting is optional, and a command may close the descriptor.\n"
      "\n"
      "Cancel (taskring job cancel): the running command gets SIGTERM, once, and no SIGKILL\n"
      "after it: a command that exits non-zero ends the job cancelled; one that traps the\n"
      "signal and finishes (exit 0) completes it.\n"
      "\n"
      "--exec logs one line per job outcome on stderr: id, attempt, exit code or signal or\n"
      "timeout, duration, and for a failed attempt the last lines (up to 4, 1 KiB) of the\n"
      "command's stderr. --quiet drops these lines, except for outcomes the daemon could not\n"
      "record. --timeout SECONDS: a command still running then gets SIGTERM (its process group),\n"
      "SIGKILL 2 s later, and its attempt fails; a job's own timeout (enqueue --timeout-ms or the\n"
      "queue's default), if shorter, applies the same way. A command whose lease was revoked (the "
      "worker\n"
      "was stopped past it and the job handed out again) is stopped the same way.\n"
      "\n"
      "SIGTERM/SIGINT: take no more jobs and let the running commands finish for up to --grace\n"
      "seconds; then their process groups get SIGTERM, and SIGKILL 2 s later (a second signal:\n"
      "SIGKILL at once). Each job completes or fails by its command's outcome; exit 0. Also stops "
      "after --max-jobs jobs or --idle-exit seconds\n"
      "without a job. Signals reach the whole group, the /bin/sh running CMD included: a script\n"
      "that handles SIGTERM itself (to finish its job) should be run with exec, as in\n"
      "--exec 'exec ./job.sh'.\n"
      "\n"
      "--wait SECONDS: at start, wait up to that long for a daemon that is not running yet or "
      "still\n"
      "starting; when the daemon crashes, stops or restarts, reconnect within that long and carry\n"
      "on (a job whose outcome could not be recorded then is redelivered by the next daemon). If\n"
      "no daemon comes: \"no daemon for queue NAME within N s; exiting\", exit 0. With --wait 0 a\n"
      "missing daemon is an error (exit 1).\n"
      "\n"
      "Exit status: 0 after a stop as above, 1 on an error, 2 on wrong flags.");
  flags.String("queue", &c.queue, "queue name");
  flags.Bool("print", &c.print, "print each payload as a line");
  flags.String("exec", &c.exec, "shell command to run per job");
  flags.Uint("threads", &c.threads, 1, 256, "commands run at the same time (--exec) (1)");
  flags.Uint("timeout", &c.timeout_s, 0, 31536000,
             "seconds a command may run, then its attempt fails (0 = no limit)");
  flags.Uint("grace", &c.grace_s, 0, 86400,
             "on a stop, seconds the running commands get to finish before SIGTERM (--exec) (10)");
  flags.Uint("max-result", &c.max_result, 0, kMaxMaxStdout,
             "stdout bytes kept as a job's result; more fails it (--exec) (65536)");
  flags.Uint("wait", &c.wait_s, 0, 31536000,
             "seconds to wait for a daemon, at start and when it goes (0)");
  flags.Uint("max-jobs", &c.max_jobs, 0, UINT64_MAX, "stop after N jobs (0 = no limit)");
  flags.Uint("idle-exit", &c.idle_exit_s, 0, 86400,
             "stop after this many idle seconds (0 = never)");
  flags.Bool("quiet", &c.quiet, "no per-job outcome lines on stderr (--exec)");
  flags.StringList("type", &c.types, "take only jobs of this type (repeatable; '' = untyped)");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error("worker", std::string(s.message()) + " (see --help)", 2);
  if (c.queue.empty()) return Error("worker", "--queue is required (see --help)", 2);
  if (c.print == !c.exec.empty()) {
    return Error("worker", "give exactly one of --print or --exec CMD (see --help)", 2);
  }
  if (c.types.size() > kMaxWorkerTypes) {
    return Error("worker",
                 "--type given " + std::to_string(c.types.size()) + " times; at most " +
                     std::to_string(kMaxWorkerTypes),
                 2);
  }
  for (const std::string& t : c.types) {
    if (const Status ts = util::ValidateJobType(t); !ts.ok()) {
      return Error("worker", "--type: " + std::string(ts.message()), 2);
    }
  }
  if (c.print &&
      (c.threads > 1 || flags.Seen("timeout") || flags.Seen("grace") || flags.Seen("max-result"))) {
    return Error("worker", "--threads, --timeout, --grace and --max-result need --exec", 2);
  }

  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;  // no SA_RESTART: a signal wakes the loop's poll at once
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return WorkerLoop(c).Run();
}

}  // namespace taskring::cli
