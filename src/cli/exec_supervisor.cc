// Per-command supervisor for `taskring worker --exec`.
//
// The problem: a worker killed with SIGKILL cannot clean up, so a command it forked directly
// keeps running, re-parented to init, while the daemon hands the job to another worker as the
// next attempt: the same job runs twice at the same time. Whatever the command starts (a
// pipeline, `cmd &`, a double-forked or setsid'ed daemon) must die with the worker too.
//
// Why a supervisor process, and not something simpler:
// - PR_SET_PDEATHSIG on the command reaches only the process it is set on (the shell), not its
//   children, and it fires when the *thread* that forked it exits, not the process (with handler
//   threads that is the wrong moment). It is kept here only as a second line of defence for the
//   shell, against the supervisor itself being SIGKILLed.
// - A process group (or session) can be killed as a whole, but someone alive must send the
//   signal; the worker is the one that died. And `setsid`/`setpgid` lets a child leave the group.
// - A cgroup would contain everything, but creating one needs root or a delegated subtree
//   (systemd Delegate=yes), which a plain `taskring worker` under any user does not have.
// So the worker forks one supervisor per command. The supervisor:
// - watches the worker: a pidfd of its parent (opened right after fork, then checking getppid()
//   is still the worker, so a worker that died in between is not missed), and the end of a
//   socketpair that only the worker holds (the supervisor closes every other inherited
//   descriptor, so a later supervisor cannot keep an earlier one's socket open);
// - runs the command with /bin/sh in a process group of its own, and is a child subreaper
//   (PR_SET_CHILD_SUBREAPER), so descendants that double-fork or setsid are re-parented to it
//   rather than to init, and it can still find (/proc) and kill them;
// - when the worker dies, SIGKILLs the command's group and every remaining descendant until none
//   is left, then exits;
// - otherwise relays the command's exit status and the tail of its stderr to the worker, and
//   executes the worker's requests: SIGTERM (worker stopping, --timeout) or SIGKILL (grace over);
// - when the command exits, SIGTERMs what it left running (SIGKILL 1 s later): a job's processes
//   do not outlive the job, so none are left unwatched after the supervisor exits.
// The supervisor sits in a process group of its own and ignores the terminal and termination
// signals (a Ctrl-C reaches the worker, which forwards SIGTERM), so only a SIGKILL aimed at it
// ends it early; should that happen, PDEATHSIG still takes the command's shell down.
//
// The signal to a process group is sent only while its leader (the command) is not yet reaped,
// and signals to other descendants only to unreaped children: no pid can have been reused.
#include "cli/exec_supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace taskring::cli {
namespace {

constexpr size_t kTailBytes = 1024;
constexpr int kTailLines = 4;
constexpr uint64_t kLeftoverGraceMs = 1000;  // SIGTERM to SIGKILL for processes left behind
constexpr int kKillRoundMs = 10;             // re-scan while killing: orphans re-parent to us

// Supervisor -> worker: the one message it sends.
struct ResultMsg {
  uint32_t kind;
  int32_t code;
  uint32_t tail_len;
  uint32_t detail_len;
  char text[kTailBytes + 256];  // tail, then detail
};

uint64_t NowMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

// Passes bytes on to `fd` only while it takes them without blocking, dropping the rest: a reader
// of the worker's stderr that stalls (a full pipe, a paused terminal) must never keep the
// supervisor from watching for the worker's death. The tail is kept either way.
void WriteIfReady(int fd, const char* p, size_t n) {
  while (n > 0) {
    pollfd pfd{fd, POLLOUT, 0};
    if (::poll(&pfd, 1, 0) != 1 || (pfd.revents & POLLOUT) == 0) return;
    // POLLOUT on a pipe means PIPE_BUF bytes of room: a write of at most that never blocks.
    const ssize_t w = ::write(fd, p, std::min<size_t>(n, PIPE_BUF));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// The last kTailBytes of a stream, cut to its last kTailLines lines.
class Tail {
 public:
  void Add(const char* p, size_t n) {
    buf_.append(p, n);
    if (buf_.size() > 2 * kTailBytes) buf_.erase(0, buf_.size() - kTailBytes);
  }
  std::string Lines() const {
    std::string s = buf_.size() > kTailBytes ? buf_.substr(buf_.size() - kTailBytes) : buf_;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    int newlines = 0;
    for (size_t i = s.size(); i-- > 0;) {
      if (s[i] == '\n' && ++newlines == kTailLines) return s.substr(i + 1);
    }
    return s;
  }

 private:
  std::string buf_;
};

// This process's children, from /proc/<pid>/stat (no need for CONFIG_PROC_CHILDREN).
std::vector<pid_t> ListChildren() {
  std::vector<pid_t> out;
  const pid_t me = ::getpid();
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char path[300];  // "/proc/" + a name of up to 255 bytes + "/stat"
    std::snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    const char* rp = std::strrchr(buf, ')');  // the name may contain spaces and parentheses
    char state = 0;
    int ppid = 0;
    if (rp == nullptr || std::sscanf(rp + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid == me) out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  ::closedir(dir);
  return out;
}

void CloseFdsFrom(int first) {
  if (::syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0) == 0) return;
  std::vector<int> fds;  // older kernels: list first, then close (closing changes the listing)
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(dir)) {
      const int fd = std::atoi(e->d_name);
      if (fd >= first && fd != ::dirfd(dir)) fds.push_back(fd);
    }
    ::closedir(dir);
  }
  for (int fd : fds) ::close(fd);
}

// Everything the supervisor needs, built in the worker before fork.
struct Prepared {
  std::string command;
  std::string stdin_data;
  std::vector<std::string> env;  // the full environment of the command
  std::vector<char*> argv;
  std::vector<char*> envp;
};

class Supervisor {
 public:
  Supervisor(const Prepared& p, int ctl, pid_t worker) : p_(p), ctl_(ctl), worker_(worker) {}
  [[noreturn]] void Run();

 private:
  void Setup();
  void StartCommand();
  void OnControl();
  void PumpStdin();
  void PumpStderr(bool drain);
  void Reap();
  // sig to the command's group (while its leader is unreaped) and to our other children (and
  // their groups): every live descendant is in the group or below one of our children.
  void SignalTree(int sig);
  [[noreturn]] void Finish();
  [[noreturn]] void SendLost(const std::string& why);

  const Prepared& p_;
  int ctl_;
  const pid_t worker_;
  pid_t self_ = 0;
  int pidfd_ = -1, sigfd_ = -1, in_fd_ = -1, err_fd_ = -1;
  sigset_t orig_mask_{};
  pid_t cmd_ = -1;
  bool cmd_reaped_ = false;
  bool no_children_ = false;
  siginfo_t cmd_info_{};
  bool worker_gone_ = false;
  bool kill_all_ = false;
  uint64_t leftover_deadline_ = 0;
  size_t written_ = 0;
  Tail tail_;
};

void Supervisor::Setup() {
  self_ = ::getpid();
  // A group of our own: a signal to the worker's whole group (kill -- -PGID, a terminal's
  // hangup) ends the worker but not us, so we can still clean up after it.
  ::setpgid(0, 0);
  // Keep stdin/stdout/stderr and the control socket (as fd 3); drop everything else inherited
  // from the worker: other supervisors' sockets, the segment's descriptors.
  if (ctl_ != 3) {
    ::dup2(ctl_, 3);
    ctl_ = 3;
  }
  ::fcntl(ctl_, F_SETFD, FD_CLOEXEC);
  CloseFdsFrom(4);
  for (int sig :
       {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2}) {
    ::signal(sig, SIG_IGN);
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, &orig_mask_);
  sigfd_ = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, worker_, 0));
  // Opened after fork: if the worker died before that, we were re-parented and the pidfd (if
  // any) may name another process. The socket's EOF covers kernels without pidfd_open.
  if (::getppid() != worker_) _exit(0);
}

void Supervisor::StartCommand() {
  int in[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) SendLost(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) SendLost(std::string("pipe: ") + std::strerror(errno));
  cmd_ = ::fork();
  if (cmd_ < 0) SendLost(std::string("fork: ") + std::strerror(errno));
  if (cmd_ == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (::getppid() != self_) _exit(127);
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &orig_mask_, nullptr);
    ::execve("/bin/sh", p_.argv.data(), p_.envp.data());
    _exit(127);
  }
  ::setpgid(cmd_, cmd_);  // also here, so the group exists before we might signal it
  ::close(in[0]);
  ::close(err[1]);
  in_fd_ = in[1];
  err_fd_ = err[0];
  ::fcntl(in_fd_, F_SETFL, O_NONBLOCK);
  ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
  if (p_.stdin_data.empty()) {
    ::close(in_fd_);
    in_fd_ = -1;
  }
}

void Supervisor::OnControl() {
  char op = 0;
  const ssize_t n = ::recv(ctl_, &op, 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {  // EOF: the worker is gone (or dropped us)
    worker_gone_ = true;
    return;
  }
  if (op == 'T') SignalTree(SIGTERM);
  if (op == 'K') kill_all_ = true;
}

void Supervisor::PumpStdin() {
  const std::string& d = p_.stdin_data;
  const ssize_t n = ::write(in_fd_, d.data() + written_, d.size() - written_);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) written_ += static_cast<size_t>(n);
  if (n <= 0 || written_ == d.size()) {  // done, or the command does not read it: fine
    ::close(in_fd_);
    in_fd_ = -1;
  }
}

void Supervisor::PumpStderr(bool drain) {
  char buf[4096];
  do {
    const ssize_t n = ::read(err_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      ::close(err_fd_);
      err_fd_ = -1;
      return;
    }
    if (!worker_gone_) WriteIfReady(STDERR_FILENO, buf, static_cast<size_t>(n));
    tail_.Add(buf, static_cast<size_t>(n));
  } while (drain);
}

void Supervisor::SignalTree(int sig) {
  if (!cmd_reaped_) ::kill(-cmd_, sig);
  if (no_children_) return;
  for (pid_t c : ListChildren()) {
    if (c == cmd_) continue;
    if (::getpgid(c) == c) ::kill(-c, sig);  // it leads a group (setsid): its group too
    ::kill(c, sig);
  }
}

void Supervisor::Reap() {
  for (;;) {
    siginfo_t si{};
    if (::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == ECHILD) no_children_ = true;
      return;
    }
    if (si.si_pid == 0) return;  // children left, none exited
    if (si.si_pid == cmd_) {
      cmd_info_ = si;
      // Its group's other members: signalled while the zombie leader still pins the group id.
      const bool killing = kill_all_ || worker_gone_;
      ::kill(-cmd_, killing ? SIGKILL : SIGTERM);
      if (!killing) leftover_deadline_ = NowMs() + kLeftoverGraceMs;
    }
    ::waitpid(si.si_pid, nullptr, WNOHANG);
    if (si.si_pid == cmd_) {
      cmd_reaped_ = true;
      // Processes it left outside its group were re-parented to us: tell them too (the /proc
      // scan only when there are any).
      siginfo_t any{};
      const bool children = ::waitid(P_ALL, 0, &any, WEXITED | WNOHANG | WNOWAIT) == 0;
      if (children && !kill_all_ && !worker_gone_) {
        for (pid_t c : ListChildren()) ::kill(c, SIGTERM);
      }
    }
  }
}

void Supervisor::SendLost(const std::string& why) {
  ResultMsg m{};
  m.kind = static_cast<uint32_t>(ExecOutcome::Kind::kLost);
  m.detail_len = static_cast<uint32_t>(std::min(why.size(), sizeof(m.text)));
  std::memcpy(m.text, why.data(), m.detail_len);
  (void)::send(ctl_, &m, offsetof(ResultMsg, text) + m.detail_len, MSG_NOSIGNAL);
  _exit(0);
}

void Supervisor::Finish() {
  if (err_fd_ >= 0) PumpStderr(/*drain=*/true);
  if (worker_gone_) _exit(0);
  ResultMsg m{};
  if (cmd_info_.si_code == CLD_EXITED) {
    m.kind = static_cast<uint32_t>(ExecOutcome::Kind::kExited);
  } else {
    m.kind = static_cast<uint32_t>(ExecOutcome::Kind::kSignaled);
  }
  m.code = cmd_info_.si_status;
  const std::string tail = tail_.Lines();
  m.tail_len = static_cast<uint32_t>(std::min(tail.size(), kTailBytes));
  std::memcpy(m.text, tail.data() + (tail.size() - m.tail_len), m.tail_len);
  (void)::send(ctl_, &m, offsetof(ResultMsg, text) + m.tail_len, MSG_NOSIGNAL);
  _exit(0);
}

void Supervisor::Run() {
  Setup();
  StartCommand();
  for (;;) {
    const bool killing = kill_all_ || worker_gone_;
    if (killing) SignalTree(SIGKILL);
    Reap();
    if (cmd_reaped_ && no_children_) Finish();

    pollfd fds[5];
    int n = 0;
    const int i_ctl = worker_gone_ ? -1 : n;
    if (!worker_gone_) fds[n++] = {ctl_, POLLIN, 0};
    const int i_pid = pidfd_ >= 0 && !worker_gone_ ? n : -1;
    if (i_pid >= 0) fds[n++] = {pidfd_, POLLIN, 0};
    const int i_sig = n;
    fds[n++] = {sigfd_, POLLIN, 0};
    const int i_in = in_fd_ >= 0 ? n : -1;
    if (i_in >= 0) fds[n++] = {in_fd_, POLLOUT, 0};
    const int i_err = err_fd_ >= 0 ? n : -1;
    if (i_err >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    int timeout = -1;
    if (killing) {
      timeout = kKillRoundMs;
    } else if (leftover_deadline_ != 0) {
      const uint64_t now = NowMs();
      timeout = now >= leftover_deadline_ ? 0 : static_cast<int>(leftover_deadline_ - now);
    }
    if (::poll(fds, static_cast<nfds_t>(n), timeout) < 0 && errno != EINTR) _exit(1);

    if (i_ctl >= 0 && fds[i_ctl].revents != 0) OnControl();
    if (i_pid >= 0 && fds[i_pid].revents != 0) worker_gone_ = true;
    if (fds[i_sig].revents != 0) {
      signalfd_siginfo si;
      while (::read(sigfd_, &si, sizeof(si)) > 0) {
      }
    }
    if (i_in >= 0 && fds[i_in].revents != 0) PumpStdin();
    if (i_err >= 0 && fds[i_err].revents != 0) PumpStderr(/*drain=*/false);
    if (leftover_deadline_ != 0 && NowMs() >= leftover_deadline_) kill_all_ = true;
  }
}

}  // namespace

Status SupervisedCommand::Start(const Spec& spec, std::unique_ptr<SupervisedCommand>* out) {
  // Build everything before fork: the supervisor only reads it.
  Prepared p;
  p.command = spec.command;
  p.stdin_data = spec.stdin_data;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    const bool replaced = std::any_of(spec.env.begin(), spec.env.end(), [&](const std::string& s) {
      return s.size() > name.size() && s.compare(0, name.size(), name) == 0 &&
             s[name.size()] == '=';
    });
    if (!replaced) p.env.emplace_back(entry);
  }
  p.env.insert(p.env.end(), spec.env.begin(), spec.env.end());
  static char sh[] = "sh", dash_c[] = "-c";
  p.argv = {sh, dash_c, p.command.data(), nullptr};
  for (std::string& e : p.env) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::IOError(std::string("socketpair: ") + std::strerror(errno));
  }
  const pid_t worker = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return Status::IOError(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::close(sv[0]);
    try {
      Supervisor(p, sv[1], worker).Run();
    } catch (...) {
    }
    _exit(1);
  }
  ::close(sv[1]);
  ::fcntl(sv[0], F_SETFL, O_NONBLOCK);
  out->reset(new SupervisedCommand(pid, sv[0]));
  return Status::OK();
}

void SupervisedCommand::Send(char op) {
  if (!done_) (void)::send(fd_, &op, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool SupervisedCommand::Collect(ExecOutcome* out) {
  if (done_) return true;
  ResultMsg m{};
  const ssize_t n = ::recv(fd_, &m, sizeof(m), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  *out = ExecOutcome();
  if (n >= static_cast<ssize_t>(offsetof(ResultMsg, text)) &&
      m.tail_len + m.detail_len <= static_cast<size_t>(n) - offsetof(ResultMsg, text)) {
    out->kind = static_cast<ExecOutcome::Kind>(m.kind);
    out->code = m.code;
    out->stderr_tail.assign(m.text, m.tail_len);
    out->detail.assign(m.text + m.tail_len, m.detail_len);
  } else {
    out->kind = ExecOutcome::Kind::kLost;
    out->detail = "the command's supervisor exited without an outcome";
  }
  ::close(fd_);
  fd_ = -1;
  done_ = true;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  if (out->kind == ExecOutcome::Kind::kLost && WIFSIGNALED(status)) {
    out->detail += " (killed by signal " + std::to_string(WTERMSIG(status)) + ")";
  }
  return true;
}

SupervisedCommand::~SupervisedCommand() {
  if (done_) return;
  ::close(fd_);  // EOF: the supervisor kills the command and everything it started, then exits
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace taskring::cli
