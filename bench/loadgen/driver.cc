#include "loadgen/driver.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "util/clock.h"
#include "util/coding.h"

namespace taskring::loadgen {
namespace {

// Every payload starts with: key (producer << 32 | sequence) | intended send time.
constexpr uint32_t kHeaderBytes = 16;

struct Control {  // shared by all children (anonymous shared mapping made before fork)
  std::atomic<uint32_t> go;
  std::atomic<uint64_t> start_ns;
  std::atomic<uint32_t> producers_done;
  std::atomic<uint32_t> failed;
  std::atomic<uint64_t> accepted, busy, errors, received;
  char failure[256];
};

struct ProducerRecord {
  uint64_t key, intended_ns, accepted_ns;
};
struct WorkerRecord {
  uint64_t key, intended_ns, started_ns, finished_ns;
};

void Fail(Control* c, const std::string& who, const Status& s) {
  if (c->failed.exchange(1) == 0) {
    std::snprintf(c->failure, sizeof(c->failure), "%s: %s", who.c_str(), s.ToString().c_str());
  }
}

// Sleeps (never spins) until a CLOCK_MONOTONIC time: a spinning generator would take a core
// from the system it measures. Waking late is not hidden: latency counts from `mono_ns`.
void SleepUntil(uint64_t mono_ns) {
  if (util::NowMonoNs() >= mono_ns) return;  // behind schedule: send now, no syscall
  const timespec ts{static_cast<time_t>(mono_ns / 1'000'000'000ULL),
                    static_cast<long>(mono_ns % 1'000'000'000ULL)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

template <typename T>
void WriteRecords(const std::string& path, const std::vector<T>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()),
          static_cast<std::streamsize>(v.size() * sizeof(T)));
}

template <typename T>
void ReadRecords(const std::string& path, std::vector<T>* v) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  const auto size = static_cast<size_t>(f.tellg());
  const size_t n = size / sizeof(T);
  const size_t base = v->size();
  v->resize(base + n);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v->data() + base), static_cast<std::streamsize>(n * sizeof(T)));
}

void WaitGo(Control* c) {
  while (c->go.load(std::memory_order_acquire) == 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

int ProducerMain(const Target& t, const LoadOptions& o, Control* c, uint32_t index, uint64_t jobs) {
  ::prctl(PR_SET_TIMERSLACK, 1UL);  // wake on schedule, not up to 50 us later
  std::unique_ptr<Sender> sender;
  Status s = MakeSender(t, &sender);
  if (!s.ok()) {
    Fail(c, "producer " + std::to_string(index), s);
    return 1;
  }
  std::vector<ProducerRecord> records;
  records.reserve(std::min<uint64_t>(jobs, 1u << 20));
  std::vector<std::string> payloads(o.batch, std::string(o.payload_bytes, 'x'));
  std::vector<std::string_view> views(o.batch);
  std::vector<SendOutcome> out(o.batch);
  std::vector<uint64_t> intended(o.batch);
  WaitGo(c);
  const uint64_t t0 = c->start_ns.load();
  const double interval_ns = o.rate > 0 ? 1e9 * o.producers / o.rate : 0;
  const uint64_t end_ns =
      o.duration_s != 0 ? t0 + uint64_t{o.duration_s} * 1'000'000'000ULL : UINT64_MAX;
  uint64_t next = 0;  // next sequence number to send
  uint64_t busy = 0, errors = 0;
  while (next < jobs && util::NowMonoNs() < end_ns &&
         c->failed.load(std::memory_order_relaxed) == 0) {
    size_t n = 0;
    if (interval_ns > 0) {
      const auto due = [&](uint64_t seq) {
        return t0 + static_cast<uint64_t>(static_cast<double>(seq) * interval_ns);
      };
      SleepUntil(due(next));
      const uint64_t now = util::NowMonoNs();
      while (n < o.batch && next + n < jobs && due(next + n) <= now) {
        intended[n] = due(next + n);
        ++n;
      }
    } else {
      n = std::min<uint64_t>(o.batch, jobs - next);
      const uint64_t now = util::NowMonoNs();
      for (size_t i = 0; i < n; ++i) intended[i] = now;
    }
    for (size_t i = 0; i < n; ++i) {
      util::EncodeFixed64(payloads[i].data(), (uint64_t{index} << 32) | (next + i));
      util::EncodeFixed64(payloads[i].data() + 8, intended[i]);
      views[i] = payloads[i];
    }
    // Closed loop: what the queue refused is offered again (after a short pause) and keeps its
    // intended time, so waiting for room is part of its latency. Open loop: refused is dropped.
    size_t pending = n;
    std::vector<size_t> index_of(n);
    for (size_t i = 0; i < n; ++i) index_of[i] = i;
    while (pending != 0) {
      s = sender->Send(std::span(views.data(), pending), std::span(out.data(), pending));
      if (!s.ok() && !s.IsBusy()) {
        Fail(c, "producer " + std::to_string(index), s);
        break;
      }
      const uint64_t now = util::NowMonoNs();
      size_t keep = 0;
      for (size_t i = 0; i < pending; ++i) {
        const size_t j = index_of[i];
        if (out[i] == SendOutcome::kAccepted) {
          records.push_back({util::DecodeFixed64(payloads[j].data()), intended[j], now});
        } else if (out[i] == SendOutcome::kBusy) {
          ++busy;
          if (interval_ns == 0) {
            views[keep] = views[i];
            index_of[keep++] = j;
          }
        } else {
          ++errors;
        }
      }
      pending = keep;
      if (pending != 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    next += n;
  }
  c->accepted.fetch_add(records.size());
  c->busy.fetch_add(busy);
  c->errors.fetch_add(errors);
  WriteRecords(o.scratch_dir + "/producer-" + std::to_string(index) + ".bin", records);
  c->producers_done.fetch_add(1, std::memory_order_release);
  return 0;
}

void DoWork(const LoadOptions& o) {
  if (o.work_us == 0) return;
  if (o.work_sleeps) {
    std::this_thread::sleep_for(std::chrono::microseconds(o.work_us));
    return;
  }
  const uint64_t until = util::NowMonoNs() + uint64_t{o.work_us} * 1000;
  while (util::NowMonoNs() < until) {
  }
}

int WorkerMain(const Target& t, const LoadOptions& o, Control* c, uint32_t index,
               uint64_t deadline_ns) {
  std::unique_ptr<Receiver> receiver;
  Status s = MakeReceiver(t, &receiver);
  if (!s.ok()) {
    Fail(c, "worker " + std::to_string(index), s);
    return 1;
  }
  std::vector<WorkerRecord> records;
  std::string payload;
  WaitGo(c);
  while (c->failed.load(std::memory_order_relaxed) == 0 && util::NowMonoNs() < deadline_ns) {
    // Long enough that every peer can block server-side (beanstalkd's timeout is whole
    // seconds; shorter ones would make it poll): the timeout only paces the exit check.
    s = receiver->Receive(&payload, 1000);
    if (s.IsTimedOut()) {
      if (c->producers_done.load(std::memory_order_acquire) == o.producers &&
          c->received.load() >= c->accepted.load()) {
        break;
      }
      continue;
    }
    if (!s.ok()) {
      Fail(c, "worker " + std::to_string(index), s);
      break;
    }
    const uint64_t started = util::NowMonoNs();
    if (payload.size() < kHeaderBytes) {
      Fail(c, "worker " + std::to_string(index), Status::Corruption("short payload"));
      break;
    }
    DoWork(o);
    s = receiver->Ack();
    const uint64_t finished = util::NowMonoNs();
    if (!s.ok()) {
      Fail(c, "worker " + std::to_string(index), s);
      break;
    }
    records.push_back({util::DecodeFixed64(payload.data()), util::DecodeFixed64(payload.data() + 8),
                       started, finished});
    c->received.fetch_add(1, std::memory_order_relaxed);
  }
  WriteRecords(o.scratch_dir + "/worker-" + std::to_string(index) + ".bin", records);
  return 0;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  if (std::sscanf(stat.c_str() + paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                  &utime, &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ChildrenCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// Starts n processes that spin until killed (or until the tool dies: PR_SET_PDEATHSIG).
std::vector<pid_t> StartContention(uint32_t n) {
  std::vector<pid_t> pids;
  const pid_t parent = ::getpid();
  for (uint32_t i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(0);  // the tool died before prctl took effect
      std::atomic<uint64_t> spins{0};         // a side effect, so the loop is not optimised away
      for (;;) spins.fetch_add(1, std::memory_order_relaxed);
    }
    if (pid > 0) pids.push_back(pid);
  }
  return pids;
}

void StopContention(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
}

}  // namespace

Status RunLoad(const Target& target, const LoadOptions& o, LoadResult* result) {
  if (o.producers == 0 || o.workers == 0 || (o.jobs == 0 && o.duration_s == 0) || o.batch == 0) {
    return Status::InvalidArgument("producers, workers, jobs and batch must be at least 1");
  }
  if (o.payload_bytes < kHeaderBytes || o.payload_bytes > target.max_payload) {
    return Status::InvalidArgument("payload must be " + std::to_string(kHeaderBytes) + ".." +
                                   std::to_string(target.max_payload) + " bytes");
  }
  void* mem =
      ::mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return Status::IOError("mmap failed");
  auto* c = new (mem) Control();
  const uint64_t deadline =
      util::NowMonoNs() + (uint64_t{o.timeout_s} + o.duration_s) * 1'000'000'000ULL;
  const double cpu_before = ChildrenCpuSeconds();
  const double server_before = o.server_pid != 0 ? ProcessCpuSeconds(o.server_pid) : 0;
  std::vector<pid_t> children;
  std::fflush(nullptr);  // or each child would flush its copy of what the parent buffered
  const std::vector<pid_t> contention = StartContention(o.contention);
  auto spawn = [&](auto&& body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::fflush(nullptr);
      ::_exit(body());
    }
    if (pid > 0) children.push_back(pid);
    return pid > 0;
  };
  bool forked = true;
  for (uint32_t w = 0; w < o.workers && forked; ++w) {
    forked = spawn([&] { return WorkerMain(target, o, c, w, deadline); });
  }
  for (uint32_t p = 0; p < o.producers && forked; ++p) {
    const uint64_t share =
        o.duration_s != 0 ? UINT64_MAX : o.jobs / o.producers + (p < o.jobs % o.producers ? 1 : 0);
    forked = spawn([&] { return ProducerMain(target, o, c, p, share); });
  }
  if (!forked) Fail(c, "driver", Status::IOError("fork failed"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let children connect
  c->start_ns.store(util::NowMonoNs() + 1'000'000);
  c->go.store(1, std::memory_order_release);
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      Fail(c, "driver", Status::IOError("a child process exited abnormally"));
    }
  }
  // Before the busy loops are reaped: RUSAGE_CHILDREN counts only children waited for.
  const double cpu = ChildrenCpuSeconds() - cpu_before +
                     (o.server_pid != 0 ? ProcessCpuSeconds(o.server_pid) - server_before : 0);
  StopContention(contention);
  if (contention.size() != o.contention) {
    Fail(c, "driver", Status::IOError("fork of a busy loop failed"));
  }
  Status status = c->failed.load() ? Status::IOError(c->failure) : Status::OK();
  LoadResult r;
  r.accepted = c->accepted.load();
  r.busy = c->busy.load();
  r.errors = c->errors.load();
  ::munmap(mem, sizeof(Control));
  if (!status.ok()) return status;

  std::vector<ProducerRecord> sent;
  std::vector<WorkerRecord> done;
  for (uint32_t p = 0; p < o.producers; ++p) {
    ReadRecords(o.scratch_dir + "/producer-" + std::to_string(p) + ".bin", &sent);
  }
  for (uint32_t w = 0; w < o.workers; ++w) {
    ReadRecords(o.scratch_dir + "/worker-" + std::to_string(w) + ".bin", &done);
  }
  std::unordered_map<uint64_t, uint64_t> accepted_at;
  accepted_at.reserve(sent.size());
  std::vector<uint64_t> enqueue, handoff, e2e;
  uint64_t first = UINT64_MAX, last = 0, last_accepted = 0;
  for (const ProducerRecord& s : sent) {
    accepted_at[s.key] = s.accepted_ns;
    enqueue.push_back(s.accepted_ns - s.intended_ns);
    first = std::min(first, s.intended_ns);
    last_accepted = std::max(last_accepted, s.accepted_ns);
  }
  if (last_accepted > first) {
    r.accepted_per_second =
        static_cast<double>(sent.size()) / (static_cast<double>(last_accepted - first) / 1e9);
  }
  std::unordered_map<uint64_t, bool> seen;
  seen.reserve(done.size());
  for (const WorkerRecord& d : done) {
    if (!seen.emplace(d.key, true).second) {
      ++r.duplicates;
      continue;
    }
    last = std::max(last, d.finished_ns);
    e2e.push_back(d.finished_ns - d.intended_ns);
    auto it = accepted_at.find(d.key);
    if (it == accepted_at.end()) continue;  // outcome unknown to its producer (not accepted)
    if (d.started_ns < it->second) ++r.handed_before_ack;
    handoff.push_back(d.started_ns > it->second ? d.started_ns - it->second : 0);
  }
  r.received = done.size();
  if (seen.size() < r.accepted) {
    return Status::Corruption(std::to_string(r.accepted - seen.size()) +
                              " accepted jobs never reached a worker before the timeout");
  }
  r.seconds = last > first ? static_cast<double>(last - first) / 1e9 : 0;
  r.jobs_per_second = r.seconds > 0 ? static_cast<double>(seen.size()) / r.seconds : 0;
  r.cpu_us_per_job = seen.empty() ? 0 : cpu * 1e6 / static_cast<double>(seen.size());
  r.enqueue = Summarize(enqueue);
  r.handoff = Summarize(handoff);
  r.end_to_end = Summarize(e2e);
  *result = r;
  return Status::OK();
}

}  // namespace taskring::loadgen
