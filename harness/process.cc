#include "harness/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace taskring::harness {
namespace {

using Clock = std::chrono::steady_clock;

// The parent's environment with `extra` ("NAME=value") added; an extra entry replaces the
// parent's entry of the same name.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& x : extra) replaced = replaced || x.rfind(name + "=", 0) == 0;
    if (!replaced) out.push_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  p.reserve(strings.size() + 1);
  for (std::string& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

}  // namespace

pid_t Spawn(const std::vector<std::string>& argv_in, const SpawnOptions& o) {
  if (argv_in.empty()) return -1;
  // Built before fork: the child of a multi-threaded parent must not allocate.
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv = Pointers(args);
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  if (!o.env.empty()) {
    env_strings = MergedEnvironment(o.env);
    envp = Pointers(env_strings);
  }
  const char* err_path =
      o.stderr_fd < 0 && !o.stderr_path.empty() ? o.stderr_path.c_str() : nullptr;
  const pid_t pid = ::fork();
  if (pid != 0) return pid;  // parent (or -1)
  if (o.stdin_fd >= 0) ::dup2(o.stdin_fd, STDIN_FILENO);
  if (o.stdout_fd >= 0) ::dup2(o.stdout_fd, STDOUT_FILENO);
  if (o.stderr_fd >= 0) {
    ::dup2(o.stderr_fd, STDERR_FILENO);
  } else if (err_path != nullptr) {
    const int fd = ::open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) ::dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO) ::close(fd);
  }
  if (o.keep_fd >= 0) ::fcntl(o.keep_fd, F_SETFD, 0);
  if (envp.empty()) {
    ::execv(argv[0], argv.data());
  } else {
    ::execve(argv[0], argv.data(), envp.data());
  }
  ::_exit(127);
}

int Wait(pid_t pid) {
  if (pid <= 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int KillAndWait(pid_t pid) {
  if (pid <= 0) return -1;
  ::kill(pid, SIGKILL);  // a process that already exited is a zombie until Wait: still ours
  return Wait(pid);
}

int TerminateAndWait(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return -1;
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + grace;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) return KillAndWait(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

DaemonProcess::~DaemonProcess() { Stop(); }

Status DaemonProcess::Start(const std::string& binary, std::vector<std::string> args,
                            const Options& o) {
  if (pid_ > 0) return Status::InvalidArgument("a daemon is already running");
  stop_grace_ = o.stop_grace;
  ready_line_.clear();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::IOError(std::string("pipe2: ") + std::strerror(errno));
  }
  args.insert(args.begin(), binary);
  args.insert(args.end(), {"--ready-fd", std::to_string(fds[1])});
  SpawnOptions so;
  so.stderr_path = o.log_path;
  so.env = o.env;
  so.keep_fd = fds[1];
  pid_ = Spawn(args, so);
  ::close(fds[1]);  // the daemon holds the only write end: EOF here means it closed or died
  if (pid_ < 0) {
    ::close(fds[0]);
    return Status::IOError(std::string("fork: ") + std::strerror(errno));
  }
  const std::string log_hint = o.log_path.empty() ? "" : "; see " + o.log_path;
  const auto deadline = Clock::now() + o.ready_timeout;
  std::string got;
  bool eof = false;
  while (got.find('\n') == std::string::npos && !eof) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    char buf[256];
    const ssize_t r = ::read(fds[0], buf, sizeof(buf));
    if (r > 0) {
      got.append(buf, static_cast<size_t>(r));
    } else if (r == 0 || errno != EINTR) {
      eof = true;
    }
  }
  ::close(fds[0]);
  if (got.rfind("ready", 0) == 0 && got.find('\n') != std::string::npos) {
    ready_line_ = got.substr(0, got.find('\n'));
    return Status::OK();
  }
  // Not ready: it exited (EOF), or is still starting after the timeout. Either way it is ours
  // to reap; SIGKILL leaves the exit code of one that had already exited as it was.
  const bool timed_out = !eof;
  const int code = KillAndWait(pid_);
  pid_ = -1;
  if (timed_out) {
    return Status::IOError(binary + " not ready after " + std::to_string(o.ready_timeout.count()) +
                           " ms" + log_hint);
  }
  return Status::IOError(binary + " exited during start (status " + std::to_string(code) + ")" +
                         log_hint);
}

int DaemonProcess::Stop() {
  const int code = TerminateAndWait(pid_, stop_grace_);
  pid_ = -1;
  return code;
}

int DaemonProcess::Kill() {
  const int code = KillAndWait(pid_);
  pid_ = -1;
  return code;
}

}  // namespace taskring::harness
