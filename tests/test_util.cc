#include "test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "segment/segment.h"

namespace taskring::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/taskring-test-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  path_ = p != nullptr ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string UniqueQueueName(const std::string& tag) {
  static std::atomic<int> n{0};
  return "t" + std::to_string(::getpid()) + "_" + std::to_string(n++) + "_" + tag;
}

std::string BinDir() {
#ifdef TASKRING_BIN_DIR
  return TASKRING_BIN_DIR;
#else
  return ".";
#endif
}

std::unique_ptr<Producer> OpenProducer(const std::string& queue) {
  ProducerOptions po;
  po.queue = queue;
  std::unique_ptr<Producer> p;
  EXPECT_OK(Producer::Open(po, &p));
  return p;
}

std::unique_ptr<Worker> OpenWorker(const std::string& queue) {
  WorkerOptions wo;
  wo.queue = queue;
  std::unique_ptr<Worker> w;
  EXPECT_OK(Worker::Open(wo, &w));
  return w;
}

int WaitChild(pid_t pid) { return harness::Wait(pid); }

Daemon::Daemon(std::string queue, std::string dir, std::vector<std::string> extra_args)
    : queue_(std::move(queue)), dir_(std::move(dir)), extra_(std::move(extra_args)) {
  log_path_ = dir_ + ".daemon.log";
}

Daemon::~Daemon() {
  Kill();
  segment::Segment::Remove(queue_);
  ::unlink(segment::LockPath(queue_).c_str());
}

::testing::AssertionResult Daemon::Start() {
  std::vector<std::string> args = {"--queue", queue_, "--dir", dir_};
  // Tests run side by side: any free port for metrics unless the test chose one.
  const bool metrics_chosen = std::find_if(extra_.begin(), extra_.end(), [](const std::string& a) {
                                return a.rfind("--metrics-listen", 0) == 0 || a == "--no-metrics";
                              }) != extra_.end();
  if (!metrics_chosen && !default_metrics_)
    args.insert(args.end(), {"--metrics-listen", "127.0.0.1:0"});
  // A small queue unless the test asks (or brings a config file): the default reserves 70 MiB,
  // which takes a second to set up under the sanitizers.
  const bool capacity_chosen =
      std::find_if(extra_.begin(), extra_.end(), [](const std::string& a) {
        return a == "--capacity" || a.rfind("--capacity=", 0) == 0 || a == "--config";
      }) != extra_.end();
  if (!capacity_chosen) args.insert(args.end(), {"--capacity", "1024"});
  args.insert(args.end(), extra_.begin(), extra_.end());
  harness::DaemonProcess::Options o;
  o.log_path = log_path_;
  o.env = env_;
  o.ready_timeout = std::chrono::seconds(10);
  const Status s = process_.Start(BinDir() + "/taskringd", std::move(args), o);
  if (!s.ok()) return ::testing::AssertionFailure() << s.ToString() << ": " << Log();
  return ::testing::AssertionSuccess();
}

int Daemon::Stop() { return process_.Stop(); }

void Daemon::Kill() { process_.Kill(); }

std::string Daemon::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(std::vector<std::string> args, int in_fd, int out_fd, int err_fd) {
  harness::SpawnOptions o;
  o.stdin_fd = in_fd;
  o.stdout_fd = out_fd;
  o.stderr_fd = err_fd;
  return harness::Spawn(args, o);
}

CommandResult RunCommand(const std::vector<std::string>& argv_in, const std::string& input,
                         int timeout_s) {
  // A command that exits without reading all its input must not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return {};
  }
  const pid_t pid = Spawn(argv_in, in[0], out[1], err[1]);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  CommandResult r;
  size_t written = 0;
  bool in_open = true;
  if (input.empty()) {
    ::close(in[1]);
    in_open = false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in_open ? in[1] : -1, POLLOUT, 0}};
    ::poll(fds, 3, 100);
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (in_open && (fds[2].revents & (POLLOUT | POLLERR))) {
      const ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) written = input.size();
      if (written == input.size()) {
        ::close(in[1]);
        in_open = false;
      }
    }
  }
  if (in_open) ::close(in[1]);
  ::close(out[0]);
  ::close(err[0]);
  r.exit_code = WaitChild(pid);
  return r;
}

uint64_t StatsCounter(const std::string& queue, const std::string& name) {
  const CommandResult r = RunCommand({BinDir() + "/taskring", "stat", "--queue", queue, "--json"});
  const std::string key = "\"" + name + "\":";
  const size_t at = r.out.find(key);
  if (at == std::string::npos) return UINT64_MAX;
  return std::strtoull(r.out.c_str() + at + key.size(), nullptr, 10);
}

std::string IdNumbers::operator()(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    // 13 digits or more, not part of a longer word: an id from the clock (see the header).
    const bool word_start = i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1]));
    if (end - i >= 13 && end - i <= 19 && word_start) {
      const uint64_t id = std::stoull(text.substr(i, end - i));
      if (first_ == 0) first_ = id;
      out += id >= first_ ? std::to_string(id - first_ + 1) : "before-first-" + std::to_string(id);
      i = end;
    } else if (end > i) {
      out.append(text, i, end - i);
      i = end;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace taskring::test
