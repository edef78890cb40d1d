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
// - otherwise passes the command's stderr through to the worker's, relays its exit status and
//   the tail of its stderr to the worker, and executes the worker's requests: SIGTERM (worker
//   stopping, --timeout) or SIGKILL (grace over);
// - when the command exits, SIGTERMs what it left running (SIGKILL 1 s later): a job's processes
//   do not outlive the job, so none are left unwatched after the supervisor exits.
// The supervisor sits in a process group of its own and ignores the terminal and termination
// signals (a Ctrl-C reaches the worker, which forwards SIGTERM), so only a SIGKILL aimed at it
// ends it early; should that happen, PDEATHSIG still takes the command's shell down.
//
// The signal to a process group is sent only while its leader (the command) is not yet reaped,
// and signals to other descendants only to unreaped children: no pid can have been reused.
//
// The command's stdout (the job's result) and its progress descriptor are pipes that the worker
// reads itself; the supervisor only hands their write ends to the command. Relaying them
// through the supervisor would mean buffering up to --max-result there and sending it over the
// socket with flow control (the worker may be busy), while still watching for the worker's
// death: a second copy and a protocol, for nothing the supervisor needs to see. Reading them
// directly is safe because the supervisor sends the outcome only once every process that could
// hold a write end is reaped: the pipes then hold all there will ever be, at most a pipe's
// capacity each, and Collect reads them to their EOF. If the supervisor is lost instead (killed
// by SIGKILL), a process left behind may still hold a pipe: Collect then reads what is there and
// closes it, never waiting for an EOF. Stderr stays with the supervisor, which keeps its tail
// and passes it on only while the worker's stderr takes it without blocking.
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
#include <string_view>

extern char** environ;

namespace taskring::cli {
namespace {

constexpr size_t kTailBytes = 1024;
constexpr int kTailLines = 4;
constexpr uint64_t kLeftoverGraceMs = 1000;  // SIGTERM to SIGKILL for processes left behind
constexpr int kKillRoundMs = 10;             // re-scan while killing: orphans re-parent to us

// The supervisor's descriptors besides stdin/stdout/stderr. The command gets the pipes' write
// ends as its stdout and as kProgressFd (which is kCtlFd's number: the command has no use for the
// socket, and it is close-on-exec anyway).
constexpr int kCtlFd = 3;            // the socket to the worker
constexpr int kOutWriteFd = 4;       // the command's stdout pipe
constexpr int kProgressWriteFd = 5;  // the command's progress pipe
constexpr int kFirstOtherFd = 6;
constexpr char kProgressVariable[] = "TASKRING_PROGRESS_FD";

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
  Supervisor(const Prepared& p, int ctl, int out, int progress, pid_t worker)
      : p_(p), ctl_(ctl), out_(out), progress_(progress), worker_(worker) {}
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
  int out_, progress_;  // write ends of the command's stdout and progress pipes, until it has them
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
  // Keep stdin/stdout/stderr, the control socket and the command's pipes (at their fixed
  // numbers); drop everything else inherited from the worker: other supervisors' sockets and
  // pipes, the segment's descriptors. Each is copied above the fixed numbers first, so moving one
  // into place cannot overwrite another.
  const int keep[] = {ctl_, out_, progress_};
  const int fixed[] = {kCtlFd, kOutWriteFd, kProgressWriteFd};
  int high[3];
  for (int i = 0; i < 3; ++i) {
    high[i] = ::fcntl(keep[i], F_DUPFD_CLOEXEC, kFirstOtherFd);
    if (high[i] < 0) _exit(1);  // the worker sees the socket's EOF: "exited without an outcome"
  }
  for (int i = 0; i < 3; ++i) ::dup3(high[i], fixed[i], O_CLOEXEC);
  ctl_ = kCtlFd;
  out_ = kOutWriteFd;
  progress_ = kProgressWriteFd;
  CloseFdsFrom(kFirstOtherFd);
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
    ::dup2(out_, STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::dup2(progress_, kProgressFd);  // not close-on-exec, unlike everything else of ours
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &orig_mask_, nullptr);
    ::execve("/bin/sh", p_.argv.data(), p_.envp.data());
    _exit(127);
  }
  ::setpgid(cmd_, cmd_);  // also here, so the group exists before we might signal it
  ::close(in[0]);
  ::close(err[1]);
  // Only the command's processes hold the write ends now: when they are all gone, the pipes
  // reach their EOF.
  ::close(out_);
  ::close(progress_);
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

void ProgressReader::Add(const char* p, size_t n) {
  while (n > 0) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
    const size_t len = nl != nullptr ? static_cast<size_t>(nl - p) : n;
    const size_t room = kKeepBytes - line_.size();
    line_.append(p, std::min(len, room));
    if (len > room) cut_ = true;
    if (nl == nullptr) return;
    EndLine();
    p = nl + 1;
    n -= len + 1;
  }
}

void ProgressReader::EndLine() {
  std::string_view s = line_;
  if (!cut_ && !s.empty() && s.back() == '\r') s.remove_suffix(1);
  size_t digits = 0;
  int percent = 0;
  while (digits < s.size() && digits < 4 && s[digits] >= '0' && s[digits] <= '9') {
    percent = percent * 10 + (s[digits] - '0');
    ++digits;
  }
  bool ok =
      digits >= 1 && digits <= 3 && percent <= 100 && (digits == s.size() || s[digits] == ' ');
  std::string_view message = ok && digits < s.size() ? s.substr(digits + 1) : std::string_view();
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) ok = false;
  }
  if (ok) {
    if (message.size() > kMaxProgressMessageBytes) {
      // Not in the middle of a UTF-8 character (at most 3 continuation bytes back).
      size_t end = kMaxProgressMessageBytes;
      for (int i = 0; i < 3 && end > 0 && (static_cast<unsigned char>(message[end]) & 0xC0) == 0x80;
           ++i) {
        --end;
      }
      message = message.substr(0, end);
    }
    latest_.percent = percent;
    latest_.message.assign(message);
    fresh_ = true;
  } else {
    ++malformed_;
  }
  line_.clear();
  cut_ = false;
}

bool ProgressReader::Take(ExecProgress* latest) {
  if (!fresh_) return false;
  *latest = latest_;
  fresh_ = false;
  return true;
}

Status SupervisedCommand::Start(const Spec& spec, std::unique_ptr<SupervisedCommand>* out) {
  // Build everything before fork: the supervisor only reads it.
  Prepared p;
  p.command = spec.command;
  p.stdin_data = spec.stdin_data;
  auto named = [](std::string_view entry, std::string_view name) {
    return entry.size() > name.size() && entry.substr(0, name.size()) == name &&
           entry[name.size()] == '=';
  };
  // Ours last, and only ours: one inherited from an enclosing job is not this one's.
  std::vector<std::string> set;
  for (const std::string& e : spec.env) {
    if (!named(e, kProgressVariable)) set.push_back(e);
  }
  set.push_back(std::string(kProgressVariable) + "=" + std::to_string(kProgressFd));
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    const bool replaced =
        std::any_of(set.begin(), set.end(), [&](const std::string& s) { return named(s, name); });
    if (!replaced) p.env.emplace_back(entry);
  }
  p.env.insert(p.env.end(), set.begin(), set.end());
  static char sh[] = "sh", dash_c[] = "-c";
  p.argv = {sh, dash_c, p.command.data(), nullptr};
  for (std::string& e : p.env) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);

  // [0]: ours, [1]: the supervisor's (the write ends, for the command).
  int sv[2] = {-1, -1}, so[2] = {-1, -1}, pr[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {sv[0], sv[1], so[0], so[1], pr[0], pr[1]}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::IOError(std::string("socketpair: ") + std::strerror(errno));
  }
  if (::pipe2(so, O_CLOEXEC) != 0 || ::pipe2(pr, O_CLOEXEC) != 0) {
    const int e = errno;
    close_all();
    return Status::IOError(std::string("pipe: ") + std::strerror(e));
  }
  const pid_t worker = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    close_all();
    return Status::IOError(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::close(sv[0]);
    ::close(so[0]);
    ::close(pr[0]);
    try {
      Supervisor(p, sv[1], so[1], pr[1], worker).Run();
    } catch (...) {
    }
    _exit(1);
  }
  ::close(sv[1]);
  ::close(so[1]);
  ::close(pr[1]);
  for (int fd : {sv[0], so[0], pr[0]}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
  out->reset(new SupervisedCommand(pid, sv[0], so[0], pr[0], spec.max_stdout));
  return Status::OK();
}

void SupervisedCommand::Send(char op) {
  if (!done_) (void)::send(fd_, &op, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::vector<int> SupervisedCommand::fds() const {
  std::vector<int> out;
  if (done_) return out;
  out.push_back(fd_);
  if (out_fd_ >= 0) out.push_back(out_fd_);
  if (progress_fd_ >= 0) out.push_back(progress_fd_);
  return out;
}

void SupervisedCommand::Pump() {
  if (out_fd_ >= 0) ReadPipe(&out_fd_, kPumpBytes);
  if (progress_fd_ >= 0) ReadPipe(&progress_fd_, kPumpBytes);
}

void SupervisedCommand::ReadPipe(int* fd, size_t budget) {
  char buf[16384];
  while (budget > 0) {
    const ssize_t n = ::read(*fd, buf, std::min(sizeof(buf), budget));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // EOF (the command closed it, or is gone), or an error: nothing more comes
      ::close(*fd);
      *fd = -1;
      return;
    }
    const size_t got = static_cast<size_t>(n);
    budget -= got;
    if (fd == &progress_fd_) {
      progress_.Add(buf, got);
      continue;
    }
    // Past the bound, read on and drop: a command blocked on a full pipe would never end.
    const size_t keep = std::min(got, max_stdout_ - stdout_.size());
    stdout_.append(buf, keep);
    if (keep < got) overflow_ = true;
  }
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
  // See the top of this file: with an outcome, every writer is gone and a pipe holds at most its
  // capacity, so this reads to the EOF; without one (supervisor lost), it stops there anyway.
  for (int* fd : {&out_fd_, &progress_fd_}) {
    if (*fd < 0) continue;
    const int capacity = ::fcntl(*fd, F_GETPIPE_SZ);
    ReadPipe(fd, (capacity > 0 ? static_cast<size_t>(capacity) : kPumpBytes) + 1);
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  out->stdout_data = std::move(stdout_);
  out->stdout_overflow = overflow_;
  out->progress_malformed = progress_.malformed();
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
  // Only now: a command blocked on a full pipe is killed like any other, not by SIGPIPE.
  for (int fd : {out_fd_, progress_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace taskring::cli
