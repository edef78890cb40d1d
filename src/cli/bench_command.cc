// taskring bench: the end-to-end load tool. Forks producer and worker processes against a real
// taskringd (started here, in a temp dir, unless --queue names a running one) or against a peer
// (Boost message_queue, Redis, beanstalkd), and reports throughput, exact latency percentiles,
// BUSY answers and CPU per job. --sweep steps an open-loop rate up to saturation and plots
// latency against throughput.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "loadgen/driver.h"
#include "loadgen/peers.h"
#include "segment/segment.h"
#include "util/clock.h"
#include "util/flags.h"

namespace taskring::cli {
namespace {

using loadgen::LoadOptions;
using loadgen::LoadResult;
using loadgen::Percentiles;
using loadgen::Target;

struct Args {
  std::string target = "taskring";
  std::string queue, durability = "fsync", host = "127.0.0.1", label, sweep, plot;
  uint64_t port = 0, server_pid = 0, capacity = 65536, producers = 1, workers = 1, jobs = 100000,
           payload = 64, batch = 1, work_us = 0, timeout_s = 300, rate = 0;
  std::string work = "busy";
  bool json = false;
  bool disk_probe = false;
};

// A taskringd of our own, in a temp dir, stopped (SIGTERM) and cleaned up on scope exit.
class OwnDaemon {
 public:
  ~OwnDaemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Status Start(const Args& a, Target* t) {
    char tmpl[] = "/tmp/taskring-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Status::IOError("mkdtemp failed");
    dir_ = tmpl;
    t->queue = "bench-" + std::to_string(::getpid());
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").parent_path();
    std::vector<std::string> argv = {self + "/taskringd",
                                     "--queue",
                                     t->queue,
                                     "--dir",
                                     dir_ + "/wal",
                                     "--durability",
                                     a.durability,
                                     "--capacity",
                                     std::to_string(a.capacity),
                                     "--max-payload",
                                     std::to_string(t->max_payload),
                                     "--no-metrics"};
    pid_ = ::fork();
    if (pid_ == 0) {
      std::FILE* log = std::freopen((dir_ + "/daemon.log").c_str(), "w", stderr);
      (void)log;
      std::vector<char*> args;
      args.reserve(argv.size() + 1);
      for (auto& s : argv) args.push_back(s.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    for (int i = 0; i < 3000; ++i) {
      std::unique_ptr<segment::Segment> seg;
      if (segment::Segment::Attach(t->queue, true, &seg).ok() &&
          seg->header()->daemon_pid.load() == pid_) {
        return Status::OK();
      }
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return Status::IOError("taskringd exited at start; see " + dir_ + "/daemon.log");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Status::TimedOut();
  }
  pid_t pid() const { return pid_; }
  std::string wal_dir() const { return dir_ + "/wal"; }

 private:
  pid_t pid_ = -1;
  std::string dir_;
};

// The disk's own cost of what fsync mode does per group commit: append a small record, then
// fdatasync. `taskring bench --disk-probe` runs it in the WAL directory, in the same run, and
// at the run's --rate if one is given: an idle disk (and vCPU) answers a lone sync more slowly
// than a busy one, so the floor must be measured at the same pace.
Status ProbeDisk(const std::string& dir, uint64_t rate, Percentiles* out) {
  const std::string path = dir + "/disk-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + path);
  const std::string record(96, 'p');  // about one 64-byte job with its WAL framing
  std::vector<uint64_t> samples;
  const int rounds = rate > 0 ? 500 : 2000;
  for (int i = 0; i < rounds; ++i) {
    if (rate > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(1'000'000'000ULL / rate));
    const uint64_t t = util::NowMonoNs();
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      ::close(fd);
      return Status::IOError("write/fdatasync failed in " + dir);
    }
    samples.push_back(util::NowMonoNs() - t);
  }
  ::close(fd);
  ::unlink(path.c_str());
  *out = loadgen::Summarize(samples);
  return Status::OK();
}

std::string Row(const char* name, const Percentiles& p) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "%-12s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", name, p.p50,
                p.p90, p.p99, p.p999, p.p9999, p.max);
  return buf;
}

std::string Describe(const Args& a, const LoadOptions& o) {
  std::ostringstream d;
  d << (a.label.empty() ? a.target : a.label);
  if (a.target == "taskring") d << " (" << a.durability << ")";
  d << ", " << o.producers << " producer(s) x " << o.workers << " worker(s), " << o.payload_bytes
    << " B payloads, batch " << o.batch << ", "
    << (o.rate > 0 ? "open loop at " + std::to_string(static_cast<uint64_t>(o.rate)) + " jobs/s"
                   : std::string("closed loop"))
    << ", work " << o.work_us << " us " << (o.work_sleeps ? "sleeping" : "busy");
  return d.str();
}

void PrintHuman(const Args& a, const LoadOptions& o, const LoadResult& r) {
  std::printf("%s\n", Describe(a, o).c_str());
  std::printf("jobs %llu accepted, %llu busy answers, %llu errors, %llu duplicates\n",
              static_cast<unsigned long long>(r.accepted), static_cast<unsigned long long>(r.busy),
              static_cast<unsigned long long>(r.errors),
              static_cast<unsigned long long>(r.duplicates));
  std::printf(
      "throughput %.0f jobs/s end to end over %.3f s (accepted at %.0f jobs/s); CPU "
      "%.2f us/job (all processes%s)\n",
      r.jobs_per_second, r.seconds, r.accepted_per_second, r.cpu_us_per_job,
      o.server_pid ? " + server" : "");
  std::printf("%-12s %10s %10s %10s %10s %10s %10s\n", "latency (us)", "p50", "p90", "p99", "p99.9",
              "p99.99", "max");
  std::fputs(Row("enqueue", r.enqueue).c_str(), stdout);
  std::fputs(Row("handoff", r.handoff).c_str(), stdout);
  std::fputs(Row("end-to-end", r.end_to_end).c_str(), stdout);
}

std::string Json(const Args& a, const LoadOptions& o, const LoadResult& r) {
  char head[768];
  std::snprintf(
      head, sizeof(head),
      "{\"target\":\"%s\",\"label\":\"%s\",\"durability\":\"%s\",\"producers\":%u,\"workers\":%u,"
      "\"payload_bytes\":%u,\"batch\":%u,\"rate\":%.0f,\"work_us\":%u,\"work\":\"%s\","
      "\"accepted\":%llu,\"busy\":%llu,\"errors\":%llu,\"duplicates\":%llu,\"seconds\":%.6f,"
      "\"jobs_per_second\":%.1f,\"accepted_per_second\":%.1f,\"cpu_us_per_job\":%.3f,"
      "\"handed_before_ack\":%llu",
      a.target.c_str(), a.label.c_str(), a.target == "taskring" ? a.durability.c_str() : "",
      o.producers, o.workers, o.payload_bytes, o.batch, o.rate, o.work_us,
      o.work_sleeps ? "sleep" : "busy", static_cast<unsigned long long>(r.accepted),
      static_cast<unsigned long long>(r.busy), static_cast<unsigned long long>(r.errors),
      static_cast<unsigned long long>(r.duplicates), r.seconds, r.jobs_per_second,
      r.accepted_per_second, r.cpu_us_per_job,
      static_cast<unsigned long long>(r.handed_before_ack));
  return std::string(head) + ",\"latency_us\":{\"enqueue\":" + PercentilesJson(r.enqueue) +
         ",\"handoff\":" + PercentilesJson(r.handoff) +
         ",\"end_to_end\":" + PercentilesJson(r.end_to_end) + "}}\n";
}

// Latency against achieved throughput, one line per percentile, log-scale latency.
void Plot(const std::string& path, const std::string& title,
          const std::vector<std::pair<double, LoadResult>>& rows) {
  const std::string data = path + ".dat";
  std::FILE* f = std::fopen(data.c_str(), "w");
  if (f == nullptr) return;
  std::vector<std::pair<double, LoadResult>> by_throughput = rows;
  std::sort(by_throughput.begin(), by_throughput.end(), [](const auto& x, const auto& y) {
    return x.second.jobs_per_second < y.second.jobs_per_second;
  });
  for (const auto& [rate, r] : by_throughput) {
    std::fprintf(f, "%.1f %.3f %.3f %.3f %.3f\n", r.jobs_per_second, r.end_to_end.p50,
                 r.end_to_end.p99, r.end_to_end.p999, r.enqueue.p99);
  }
  std::fclose(f);
  const std::string script =
      "set terminal pngcairo size 800,420 font 'DejaVu Sans,10'\nset output '" + path +
      "'\nset title \"" + title +
      "\" noenhanced\nset xlabel 'achieved throughput (jobs/s)'\nset ylabel 'latency (us)'\n"
      "set logscale y\nset grid\nset key left top\nplot '" +
      data + "' using 1:2 with linespoints title 'end-to-end p50', '" + data +
      "' using 1:3 with linespoints title 'end-to-end p99', '" + data +
      "' using 1:4 with linespoints title 'end-to-end p99.9', '" + data +
      "' using 1:5 with linespoints title 'enqueue p99'\n";
  std::FILE* g = ::popen("gnuplot", "w");
  if (g == nullptr) return;
  std::fputs(script.c_str(), g);
  if (::pclose(g) != 0)
    std::fprintf(stderr, "taskring bench: gnuplot failed; data in %s\n", data.c_str());
}

}  // namespace

int BenchCommand(int argc, char** argv) {
  Args a;
  util::FlagSet flags(
      "taskring bench [--target taskring|boost-mq|redis|beanstalkd] [flags]",
      "Runs producers and workers as separate processes against a real queue and reports\n"
      "throughput, exact latency percentiles (enqueue = intended send -> accepted; handoff =\n"
      "accepted -> started by a worker; end-to-end = intended send -> finished), BUSY answers\n"
      "and CPU per job. With --rate the load is open loop: latency counts from each job's\n"
      "scheduled send time, so a stall is not hidden (no coordinated omission).\n"
      "For taskring it starts its own taskringd in a temp dir unless --queue names a running one.");
  flags.String("target", &a.target, "taskring (default), boost-mq, redis or beanstalkd");
  flags.String("queue", &a.queue, "use this running taskring queue (or peer queue/list/tube name)");
  flags.Choice("durability", &a.durability, {"fsync", "interval", "none"},
               "durability of the daemon started here (fsync)");
  flags.Uint("capacity", &a.capacity, 1, 1u << 24,
             "capacity of the daemon / message_queue (65536)");
  flags.String("host", &a.host, "peer server address (127.0.0.1)");
  flags.Uint("port", &a.port, 0, 65535, "peer server port (redis, beanstalkd)");
  flags.Uint("server-pid", &a.server_pid, 0, 1u << 22, "count this server's CPU per job too");
  flags.Uint("producers", &a.producers, 1, 256, "producer processes (1)");
  flags.Uint("workers", &a.workers, 1, 256, "worker processes (1)");
  flags.Uint("jobs", &a.jobs, 1, 1ULL << 32, "jobs in total (100000)");
  flags.Uint("payload", &a.payload, 16, 1u << 20, "payload bytes (64)");
  flags.Uint("batch", &a.batch, 1, 65536, "payloads per send (1)");
  flags.Uint("rate", &a.rate, 0, 1ULL << 32, "open loop: jobs/s in total; 0 = closed loop (0)");
  flags.Uint("work-us", &a.work_us, 0, 10000000, "handler time per job in us (0)");
  flags.Choice("work", &a.work, {"busy", "sleep"}, "handler spins (busy) or sleeps (sleep)");
  flags.Uint("timeout-s", &a.timeout_s, 1, 86400, "bound on one run (300)");
  flags.String("sweep", &a.sweep,
               "open-loop rates, comma-separated, or 'auto' (fractions of the "
               "closed-loop maximum up to saturation)");
  flags.String("plot", &a.plot, "--sweep: write a latency-vs-throughput PNG here (gnuplot)");
  flags.String("label", &a.label, "name of this run in the output");
  flags.Bool("json", &a.json, "one JSON object per run");
  flags.Bool("disk-probe", &a.disk_probe,
             "also time 96-byte write + fdatasync in the WAL directory (paced at --rate if "
             "given): the disk's own floor under fsync-mode enqueue latency");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error("bench", std::string(s.message()) + " (see --help)", 2);
  Target t;
  if (!loadgen::ParseBackendKind(a.target, &t.kind)) {
    return Error("bench", "unknown --target '" + a.target + "' (see --help)", 2);
  }
  if ((t.kind == loadgen::BackendKind::kRedis || t.kind == loadgen::BackendKind::kBeanstalkd) &&
      a.port == 0) {
    return Error("bench", "--port is required for " + a.target, 2);
  }
  t.host = a.host;
  t.port = static_cast<int>(a.port);
  t.capacity = static_cast<uint32_t>(a.capacity);
  t.max_payload =
      std::max<uint32_t>(64, static_cast<uint32_t>(a.payload));  // slots sized to the job
  t.queue = a.queue.empty() ? "taskring-bench-" + std::to_string(::getpid()) : a.queue;

  OwnDaemon daemon;
  LoadOptions o;
  if (t.kind == loadgen::BackendKind::kTaskring && a.queue.empty()) {
    s = daemon.Start(a, &t);
    if (!s.ok()) return Error("bench", "cannot start taskringd: " + s.ToString(), 1);
    o.server_pid = daemon.pid();
  } else {
    o.server_pid = static_cast<pid_t>(a.server_pid);
  }
  char scratch[] = "/tmp/taskring-bench-runs-XXXXXX";
  if (::mkdtemp(scratch) == nullptr) return Error("bench", "mkdtemp failed", 1);
  o.scratch_dir = scratch;
  o.producers = static_cast<uint32_t>(a.producers);
  o.workers = static_cast<uint32_t>(a.workers);
  o.jobs = a.jobs;
  o.payload_bytes = static_cast<uint32_t>(a.payload);
  o.batch = static_cast<uint32_t>(a.batch);
  o.work_us = static_cast<uint32_t>(a.work_us);
  o.work_sleeps = a.work == "sleep";
  o.timeout_s = static_cast<uint32_t>(a.timeout_s);

  auto run = [&](double rate, LoadResult* r) {
    LoadOptions ro = o;
    ro.rate = rate;
    Status rs = loadgen::RunLoad(t, ro, r);
    if (!rs.ok()) return rs;
    if (a.json) {
      std::fputs(Json(a, ro, *r).c_str(), stdout);
    } else {
      PrintHuman(a, ro, *r);
      std::printf("\n");
    }
    std::fflush(stdout);
    return Status::OK();
  };

  int rc = 0;
  if (a.disk_probe) {
    Percentiles disk;
    s = ProbeDisk(a.queue.empty() ? daemon.wal_dir() : "/tmp", a.rate, &disk);
    if (!s.ok()) return Error("bench", s.ToString(), 1);
    if (a.json) {
      std::printf("{\"disk_probe\":%s}\n", loadgen::PercentilesJson(disk).c_str());
    } else {
      std::printf("disk: one 96-byte write + fdatasync in the WAL directory%s\n",
                  a.rate > 0 ? ", paced at --rate" : ", back to back");
      std::printf("%-12s %10s %10s %10s %10s %10s %10s\n", "latency (us)", "p50", "p90", "p99",
                  "p99.9", "p99.99", "max");
      std::fputs(Row("write+sync", disk).c_str(), stdout);
      std::printf("\n");
    }
  }
  if (a.sweep.empty()) {
    LoadResult r;
    s = run(static_cast<double>(a.rate), &r);
    if (!s.ok()) rc = Error("bench", s.ToString(), 1);
  } else {
    std::vector<double> rates;
    if (a.sweep == "auto") {
      LoadResult max;
      s = run(0, &max);  // closed loop: the ceiling
      for (double f : {0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1.0, 1.2}) {
        rates.push_back(f * max.jobs_per_second);
      }
    } else {
      std::stringstream in(a.sweep);
      for (std::string item; std::getline(in, item, ',');) rates.push_back(std::atof(item.c_str()));
    }
    std::vector<std::pair<double, LoadResult>> rows;
    for (double rate : rates) {
      if (!s.ok() || rate <= 0) break;
      LoadResult r;
      s = run(rate, &r);
      if (s.ok()) rows.emplace_back(rate, r);
    }
    if (!s.ok()) rc = Error("bench", s.ToString(), 1);
    if (!a.json) {
      std::printf("%-12s %12s %10s %10s %10s %10s\n", "target/s", "achieved/s", "e2e p50",
                  "e2e p99", "e2e p99.9", "busy");
      for (const auto& [rate, r] : rows) {
        std::printf("%-12.0f %12.0f %10.1f %10.1f %10.1f %10llu\n", rate, r.jobs_per_second,
                    r.end_to_end.p50, r.end_to_end.p99, r.end_to_end.p999,
                    static_cast<unsigned long long>(r.busy));
      }
    }
    if (!a.plot.empty() && !rows.empty()) {
      std::string title = Describe(a, o);
      title.replace(title.find("closed loop"), 11, "open-loop sweep");
      Plot(a.plot, title, rows);
    }
  }
  std::filesystem::remove_all(scratch);
  // A message_queue named here is ours to remove: it would outlive us in /dev/shm.
  if (t.kind == loadgen::BackendKind::kBoostMq && a.queue.empty()) loadgen::RemoveBoostMq(t.queue);
  return rc;
}

}  // namespace taskring::cli
