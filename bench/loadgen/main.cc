// taskring-bench (also run as `taskring bench`): the end-to-end load tool. Forks producer and
// worker processes against a real taskringd (started here, in a temp dir, unless --queue names a
// running one) or against a peer (Boost message_queue, Redis, beanstalkd), and reports
// throughput, exact latency percentiles, BUSY answers and CPU per job. --sweep steps an
// open-loop rate up to saturation and plots latency against throughput (gnuplot).
//
// A binary of its own, apart from the operator CLI, so `taskring` does not link the peers'
// client libraries (hiredis, Boost.Interprocess message_queue).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/process.h"
#include "loadgen/driver.h"
#include "loadgen/peers.h"
#include "taskring/options.h"
#include "util/clock.h"
#include "util/flags.h"

extern char** environ;

namespace taskring::loadgen {
namespace {

// One-line error on stderr: "taskring-bench: <msg>"; returns code.
int Error(const std::string& msg, int code) {
  std::fprintf(stderr, "taskring-bench: %s\n", msg.c_str());
  return code;
}

struct Args {
  std::string target = "taskring";
  std::string queue, durability = "fsync", host = "127.0.0.1", label, sweep, plot;
  uint64_t port = 0, server_pid = 0, capacity = 65536, producers = 1, workers = 1, jobs = 100000,
           payload = 64, batch = 1, work_us = 0, timeout_s = 300, rate = 0, duration_s = 0,
           vs_port = 0;
  std::string work = "busy";
  std::string contention = "0";
  std::string vs;  // a peer run with the same workload, right after, for same-run ratios
  bool json = false;
  bool disk_probe = false;
  bool daemon_defaults = false;
  // Job options (taskring only; the defaults are plain jobs).
  uint64_t priority = 5, headers = 0, delay_ms = 0, result_bytes = 0;
  bool priorities = false, keyed = false;
  std::string type, worker_types;
};

// A taskringd of our own, in a temp dir: started from the directory of this binary (taskringd
// is built and installed beside it), stopped (SIGTERM) and its directory removed on scope exit.
class OwnDaemon {
 public:
  ~OwnDaemon() {
    process_.Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Status Start(const Args& a, Target* t) {
    char tmpl[] = "/tmp/taskring-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Status::IOError("mkdtemp failed");
    dir_ = tmpl;
    t->queue = "bench-" + std::to_string(::getpid());
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").parent_path();
    harness::DaemonProcess::Options o;
    o.log_path = dir_ + "/daemon.log";
    o.ready_timeout = std::chrono::seconds(30);
    std::vector<std::string> args = {"--queue",      t->queue,     "--dir",       dir_ + "/wal",
                                     "--durability", a.durability, "--no-metrics"};
    if (!a.daemon_defaults) {
      args.insert(args.end(), {"--capacity", std::to_string(a.capacity), "--max-payload",
                               std::to_string(t->max_payload)});
    }
    // A result longer than the daemon's default bound (64 KiB) would fail every job.
    if (a.result_bytes > 65536) {
      args.insert(args.end(), {"--max-result", std::to_string(a.result_bytes)});
    }
    return process_.Start(self + "/taskringd", args, o);
  }
  pid_t pid() const { return process_.pid(); }
  std::string wal_dir() const { return dir_ + "/wal"; }

 private:
  harness::DaemonProcess process_;
  std::string dir_;
};

// The disk's own cost of what fsync mode does per group commit: append a small record, then
// fdatasync. `taskring-bench --disk-probe` runs it in the WAL directory, in the same run, and
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
  *out = Summarize(samples);
  return Status::OK();
}

std::string Row(const char* name, const Percentiles& p) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "%-12s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", name, p.p50,
                p.p90, p.p99, p.p999, p.p9999, p.max);
  return buf;
}

// The job options of a run, as its flags name them ("" for plain jobs).
std::string DescribeJob(const JobOptions& j) {
  std::ostringstream d;
  const char* sep = "";
  auto item = [&](const std::string& s) {
    d << sep << s;
    sep = " ";
  };
  if (j.priority >= 0) item("--priority " + std::to_string(j.priority));
  if (j.random_priority) item("--priorities");
  if (!j.type.empty()) item("--type " + j.type);
  if (!j.worker_types.empty()) {
    std::string list;
    for (const std::string& t : j.worker_types) list += (list.empty() ? "" : ",") + t;
    item("--worker-types " + list);
  }
  if (j.headers != 0) item("--headers " + std::to_string(j.headers));
  if (j.keyed) item("--keyed");
  if (j.delay_ms != 0) item("--delay-ms " + std::to_string(j.delay_ms));
  if (j.result_bytes != 0) item("--result-bytes " + std::to_string(j.result_bytes));
  return d.str();
}

std::string Describe(const Args& a, const LoadOptions& o, const JobOptions& job) {
  std::ostringstream d;
  d << (a.label.empty() ? a.target : a.label);
  if (a.target == "taskring") {
    d << " (" << a.durability << (a.daemon_defaults ? ", daemon defaults" : "") << ")";
  }
  d << ", " << o.producers << " producer(s) x " << o.workers << " worker(s), " << o.payload_bytes
    << " B payloads, batch " << o.batch << ", "
    << (o.rate > 0 ? "open loop at " + std::to_string(static_cast<uint64_t>(o.rate)) + " jobs/s"
                   : std::string("closed loop"))
    << ", work " << o.work_us << " us " << (o.work_sleeps ? "sleeping" : "busy");
  if (o.duration_s != 0) d << ", for " << o.duration_s << " s";
  if (o.contention != 0) d << ", " << o.contention << " busy loop(s) competing";
  if (a.target == "taskring" && !job.plain()) d << ", job options: " << DescribeJob(job);
  return d.str();
}

void PrintHuman(const Args& a, const LoadOptions& o, const JobOptions& job, const LoadResult& r) {
  std::printf("%s\n", Describe(a, o, job).c_str());
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

// A figure at the precision the tool reports (printf's "%.Nf"): the JSON carries what was
// measured to that many decimals, not the binary noise below them.
double Fixed(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// One run as a JSON object; the field names and their order are what tools/peers_table.py and
// tools/bench-peers.sh read.
nlohmann::ordered_json Json(const Args& a, const LoadOptions& o, const JobOptions& job,
                            const LoadResult& r) {
  nlohmann::ordered_json j;
  j["target"] = a.target;
  j["label"] = a.label;
  j["durability"] = a.target == "taskring" ? a.durability : "";
  j["daemon_defaults"] = a.target == "taskring" && a.daemon_defaults;
  j["producers"] = o.producers;
  j["workers"] = o.workers;
  j["payload_bytes"] = o.payload_bytes;
  j["batch"] = o.batch;
  j["rate"] = std::llround(o.rate);
  j["work_us"] = o.work_us;
  j["work"] = o.work_sleeps ? "sleep" : "busy";
  j["contention"] = o.contention;
  j["duration_s"] = o.duration_s;
  j["accepted"] = r.accepted;
  j["busy"] = r.busy;
  j["errors"] = r.errors;
  j["duplicates"] = r.duplicates;
  j["seconds"] = Fixed(r.seconds, 6);
  j["jobs_per_second"] = Fixed(r.jobs_per_second, 1);
  j["accepted_per_second"] = Fixed(r.accepted_per_second, 1);
  j["cpu_us_per_job"] = Fixed(r.cpu_us_per_job, 3);
  j["handed_before_ack"] = r.handed_before_ack;
  j["latency_us"] = {{"enqueue", PercentilesJson(r.enqueue)},
                     {"handoff", PercentilesJson(r.handoff)},
                     {"end_to_end", PercentilesJson(r.end_to_end)}};
  // Only when set, so a plain run's line is what it always was.
  if (a.target == "taskring" && !job.plain()) j["job_options"] = DescribeJob(job);
  return j;
}

// taskring's figures over the peer's, from runs made one after the other in this invocation.
double Ratio(double ours, double theirs) { return theirs > 0 ? ours / theirs : 0; }

nlohmann::ordered_json RatioJson(const std::string& peer, const LoadResult& ours,
                                 const LoadResult& theirs) {
  nlohmann::ordered_json j;
  j["vs"] = peer;
  j["jobs_per_second"] = Fixed(Ratio(ours.jobs_per_second, theirs.jobs_per_second), 3);
  j["cpu_us_per_job"] = Fixed(Ratio(ours.cpu_us_per_job, theirs.cpu_us_per_job), 3);
  j["end_to_end_p50"] = Fixed(Ratio(ours.end_to_end.p50, theirs.end_to_end.p50), 3);
  j["end_to_end_p99"] = Fixed(Ratio(ours.end_to_end.p99, theirs.end_to_end.p99), 3);
  return nlohmann::ordered_json{{"ratio", j}};
}

void PrintRatio(const std::string& peer, const LoadResult& ours, const LoadResult& theirs) {
  std::printf(
      "ratio taskring / %s (same invocation): throughput %.3fx, CPU per job %.3fx, end-to-end "
      "p50 %.3fx, p99 %.3fx\n",
      peer.c_str(), Ratio(ours.jobs_per_second, theirs.jobs_per_second),
      Ratio(ours.cpu_us_per_job, theirs.cpu_us_per_job),
      Ratio(ours.end_to_end.p50, theirs.end_to_end.p50),
      Ratio(ours.end_to_end.p99, theirs.end_to_end.p99));
}

// One JSON object per line. Labels come from the command line: bytes that are not UTF-8 are
// replaced (U+FFFD), not thrown about.
void PrintJsonLine(const nlohmann::ordered_json& j) {
  const std::string line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::printf("%s\n", line.c_str());
}

// A string literal for a gnuplot script: single-quoted, where only '' needs escaping.
std::string GnuplotQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    if (c != '\n') out += c;
  }
  return out + "'";
}

// Latency against achieved throughput, one line per percentile, log-scale latency. Leaves
// PATH.dat (the points) and PATH.gp (the gnuplot script) beside the PNG, so the plot can be
// redrawn or restyled by hand; gnuplot runs the script file (no shell in between).
void Plot(const std::string& path, const std::string& title,
          const std::vector<std::pair<double, LoadResult>>& rows) {
  const std::string data = path + ".dat";
  const std::string script = path + ".gp";
  std::vector<std::pair<double, LoadResult>> by_throughput = rows;
  std::sort(by_throughput.begin(), by_throughput.end(), [](const auto& x, const auto& y) {
    return x.second.jobs_per_second < y.second.jobs_per_second;
  });
  std::FILE* f = std::fopen(data.c_str(), "w");
  if (f == nullptr) {
    Error("cannot write " + data + "; no plot", 0);
    return;
  }
  std::fprintf(f, "# achieved_jobs_per_s e2e_p50_us e2e_p99_us e2e_p999_us enqueue_p99_us\n");
  for (const auto& [rate, r] : by_throughput) {
    std::fprintf(f, "%.1f %.3f %.3f %.3f %.3f\n", r.jobs_per_second, r.end_to_end.p50,
                 r.end_to_end.p99, r.end_to_end.p999, r.enqueue.p99);
  }
  const bool data_ok = std::fclose(f) == 0;
  std::FILE* g = std::fopen(script.c_str(), "w");
  if (!data_ok || g == nullptr) {
    if (g != nullptr) std::fclose(g);
    Error("cannot write " + (data_ok ? script : data) + "; no plot", 0);
    return;
  }
  const std::string d = GnuplotQuote(data);
  std::fprintf(g,
               "set terminal pngcairo size 800,420 font 'DejaVu Sans,10'\n"
               "set output %s\n"
               "set title %s noenhanced\n"
               "set xlabel 'achieved throughput (jobs/s)'\n"
               "set ylabel 'latency (us)'\n"
               "set logscale y\n"
               "set grid\n"
               "set key left top\n"
               "plot %s using 1:2 with linespoints title 'end-to-end p50', \\\n"
               "     %s using 1:3 with linespoints title 'end-to-end p99', \\\n"
               "     %s using 1:4 with linespoints title 'end-to-end p99.9', \\\n"
               "     %s using 1:5 with linespoints title 'enqueue p99'\n",
               GnuplotQuote(path).c_str(), GnuplotQuote(title).c_str(), d.c_str(), d.c_str(),
               d.c_str(), d.c_str());
  if (std::fclose(g) != 0) {
    Error("cannot write " + script + "; no plot", 0);
    return;
  }
  std::fflush(nullptr);
  char* argv[] = {const_cast<char*>("gnuplot"), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid = -1;
  if (::posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ) != 0) {
    Error("gnuplot not found; data in " + data + ", script in " + script, 0);
    return;
  }
  if (harness::Wait(pid) != 0) {
    Error("gnuplot failed; data in " + data + ", script in " + script, 0);
  }
}

int Main(int argc, char** argv) {
  Args a;
  util::FlagSet flags(
      "taskring-bench [--target taskring|boost-mq|redis|beanstalkd] [flags]\n"
      "       (also run as: taskring bench [flags])",
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
  flags.Uint("duration-s", &a.duration_s, 0, 86400,
             "send for this many seconds instead of --jobs (0: use --jobs); a run long enough "
             "for a fast system to be measured, not finished in 40 ms");
  flags.Uint("payload", &a.payload, 16, 1u << 20, "payload bytes (64)");
  flags.Uint("batch", &a.batch, 1, 65536, "payloads per send (1)");
  flags.Uint("rate", &a.rate, 0, 1ULL << 32, "open loop: jobs/s in total; 0 = closed loop (0)");
  flags.Uint("work-us", &a.work_us, 0, 10000000, "handler time per job in us (0)");
  flags.Choice("work", &a.work, {"busy", "sleep"}, "handler spins (busy) or sleeps (sleep)");
  flags.Bool("daemon-defaults", &a.daemon_defaults,
             "start taskringd with its default capacity and max payload, as an application "
             "gets it (otherwise --capacity and a max payload of the job's size)");
  flags.String("vs", &a.vs,
               "also run the same workload against this target (boost-mq; redis or beanstalkd "
               "with --vs-port) right after, and print taskring's ratios to it");
  flags.Uint("vs-port", &a.vs_port, 0, 65535, "--vs redis|beanstalkd: the peer server's port");
  flags.String("contention", &a.contention,
               "N busy-loop processes, or 'cores' for one per CPU, spinning at normal priority "
               "beside the run, as other work on a real host does (0); their CPU is not counted");
  flags.Uint("timeout-s", &a.timeout_s, 1, 86400, "bound on one run (300)");
  flags.String("sweep", &a.sweep,
               "open-loop rates, comma-separated, or 'auto' (fractions of the "
               "closed-loop maximum up to saturation)");
  flags.String("plot", &a.plot,
               "--sweep: write a latency-vs-throughput PNG here with gnuplot (the points and the "
               "script are kept beside it, PATH.dat and PATH.gp)");
  flags.String("label", &a.label, "name of this run in the output");
  flags.Bool("json", &a.json, "one JSON object per run");
  flags.Uint("priority", &a.priority, 0, 9,
             "taskring: every job with this priority, 0 (last) to 9 (first) (not set: the "
             "library's default, 5)");
  flags.Bool("priorities", &a.priorities,
             "taskring: a random priority 0..9 for each send (each job at --batch 1, else each "
             "batch)");
  flags.String("type", &a.type, "taskring: every job has this type (EnqueueOptions::type)");
  flags.String("worker-types", &a.worker_types,
               "taskring: the workers declare these types, comma-separated "
               "(WorkerOptions::types); with --type T, T takes the offer path to a declaring "
               "worker. Without it, typed jobs no worker declares go to the rings");
  flags.Uint("headers", &a.headers, 0, kMaxHeaders,
             "taskring: this many small headers per job (name h<i>, a 16-character value)");
  flags.Bool("keyed", &a.keyed,
             "taskring: each job enqueued alone (Producer::Enqueue) with an idempotency key "
             "never used before; only with --batch 1");
  flags.Uint("delay-ms", &a.delay_ms, 0, 86'400'000,
             "taskring: every job runs no earlier than this many ms after it is enqueued "
             "(end-to-end latency includes the delay)");
  flags.Uint("result-bytes", &a.result_bytes, 0, 16u << 20,
             "taskring: workers complete each job with a result of this many bytes "
             "(Worker::Complete(job, result); one Complete per job, also with --batch); at most "
             "the daemon's --max-result (0: no result)");
  flags.Bool("disk-probe", &a.disk_probe,
             "also time 96-byte write + fdatasync in the WAL directory (paced at --rate if "
             "given): the disk's own floor under fsync-mode enqueue latency");
  Status s = flags.Parse(argc, argv, 1);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(std::string(s.message()) + " (see --help)", 2);
  uint32_t contention = 0;
  if (a.contention == "cores") {
    contention = static_cast<uint32_t>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  } else {
    char* end = nullptr;
    const unsigned long n = std::strtoul(a.contention.c_str(), &end, 10);
    if (a.contention.empty() || *end != '\0' || n > 1024) {
      return Error("--contention takes a number of busy loops (0..1024) or 'cores', not '" +
                       a.contention + "'",
                   2);
    }
    contention = static_cast<uint32_t>(n);
  }
  Target peer;
  if (!a.vs.empty()) {
    if (!ParseBackendKind(a.vs, &peer.kind) || peer.kind == BackendKind::kTaskring) {
      return Error("--vs takes a peer target (boost-mq, redis, beanstalkd), not '" + a.vs + "'", 2);
    }
    if ((peer.kind == BackendKind::kRedis || peer.kind == BackendKind::kBeanstalkd) &&
        a.vs_port == 0) {
      return Error("--vs-port is required for --vs " + a.vs, 2);
    }
    if (!a.sweep.empty()) return Error("--vs and --sweep do not go together", 2);
  }
  Target t;
  if (!ParseBackendKind(a.target, &t.kind)) {
    return Error("unknown --target '" + a.target + "' (see --help)", 2);
  }
  if ((t.kind == BackendKind::kRedis || t.kind == BackendKind::kBeanstalkd) && a.port == 0) {
    return Error("--port is required for " + a.target, 2);
  }
  t.host = a.host;
  t.port = static_cast<int>(a.port);
  t.capacity = static_cast<uint32_t>(a.capacity);
  t.max_payload =
      std::max<uint32_t>(64, static_cast<uint32_t>(a.payload));  // slots sized to the job
  t.queue = a.queue.empty() ? "taskring-bench-" + std::to_string(::getpid()) : a.queue;
  t.take_batch = static_cast<uint32_t>(a.batch);
  JobOptions& job = t.job;
  if (flags.Seen("priority")) job.priority = static_cast<int>(a.priority);
  job.random_priority = a.priorities;
  job.type = a.type;
  if (!a.worker_types.empty()) {
    std::stringstream in(a.worker_types);
    for (std::string item; std::getline(in, item, ',');) job.worker_types.push_back(item);
  }
  job.headers = static_cast<uint32_t>(a.headers);
  job.keyed = a.keyed;
  job.delay_ms = a.delay_ms;
  job.result_bytes = static_cast<uint32_t>(a.result_bytes);
  // Type, key and headers share the slot with the payload: room for them in the daemon's slots.
  if (!job.type.empty() || job.headers != 0 || job.keyed) {
    t.max_payload += static_cast<uint32_t>(kMaxJobMetaBytes);
  }
  if (!job.plain()) {
    if (t.kind != BackendKind::kTaskring) {
      return Error(
          "--priority, --priorities, --type, --worker-types, --headers, --keyed, --delay-ms "
          "and --result-bytes are taskring job options; " +
              a.target + " has none",
          2);
    }
    if (!a.vs.empty()) {
      return Error("job options and --vs do not go together (the peer has none to compare)", 2);
    }
    if (job.priority >= 0 && job.random_priority) {
      return Error("--priority and --priorities exclude each other", 2);
    }
    if (job.keyed && a.batch != 1) {
      return Error("--keyed needs --batch 1: an idempotency key names one job", 2);
    }
  }

  OwnDaemon daemon;
  LoadOptions o;
  if (t.kind == BackendKind::kTaskring && a.queue.empty()) {
    s = daemon.Start(a, &t);
    if (!s.ok()) return Error("cannot start taskringd: " + s.ToString(), 1);
    o.server_pid = daemon.pid();
  } else {
    o.server_pid = static_cast<pid_t>(a.server_pid);
  }
  char scratch[] = "/tmp/taskring-bench-runs-XXXXXX";
  if (::mkdtemp(scratch) == nullptr) return Error("mkdtemp failed", 1);
  o.scratch_dir = scratch;
  o.producers = static_cast<uint32_t>(a.producers);
  o.workers = static_cast<uint32_t>(a.workers);
  o.jobs = a.jobs;
  o.duration_s = static_cast<uint32_t>(a.duration_s);
  o.payload_bytes = static_cast<uint32_t>(a.payload);
  o.batch = static_cast<uint32_t>(a.batch);
  o.work_us = static_cast<uint32_t>(a.work_us);
  o.work_sleeps = a.work == "sleep";
  o.timeout_s = static_cast<uint32_t>(a.timeout_s);
  o.contention = contention;

  auto run = [&](double rate, LoadResult* r) {
    LoadOptions ro = o;
    ro.rate = rate;
    Status rs = RunLoad(t, ro, r);
    if (!rs.ok()) return rs;
    if (a.json) {
      PrintJsonLine(Json(a, ro, t.job, *r));
    } else {
      PrintHuman(a, ro, t.job, *r);
      std::printf("\n");
    }
    std::fflush(stdout);
    return Status::OK();
  };

  int rc = 0;
  if (a.disk_probe) {
    Percentiles disk;
    s = ProbeDisk(a.queue.empty() ? daemon.wal_dir() : "/tmp", a.rate, &disk);
    if (!s.ok()) return Error(s.ToString(), 1);
    if (a.json) {
      PrintJsonLine(nlohmann::ordered_json{{"disk_probe", PercentilesJson(disk)}});
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
    if (!s.ok()) rc = Error(s.ToString(), 1);
    if (s.ok() && !a.vs.empty()) {
      peer.host = a.host;
      peer.port = static_cast<int>(a.vs_port);
      peer.capacity = t.capacity;
      peer.max_payload = t.max_payload;
      peer.queue = "taskring-bench-vs-" + std::to_string(::getpid());
      LoadOptions po = o;
      po.rate = static_cast<double>(a.rate);
      po.server_pid = 0;
      LoadResult pr;
      s = RunLoad(peer, po, &pr);
      if (peer.kind == BackendKind::kBoostMq) RemoveBoostMq(peer.queue);
      if (!s.ok()) {
        rc = Error("--vs " + a.vs + ": " + s.ToString(), 1);
      } else {
        Args pa = a;
        pa.target = a.vs;
        pa.label = a.vs;
        if (a.json) {
          PrintJsonLine(Json(pa, po, peer.job, pr));
          PrintJsonLine(RatioJson(a.vs, r, pr));
        } else {
          PrintHuman(pa, po, peer.job, pr);
          PrintRatio(a.vs, r, pr);
        }
      }
    }
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
    if (!s.ok()) rc = Error(s.ToString(), 1);
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
      std::string title = Describe(a, o, t.job);
      title.replace(title.find("closed loop"), 11, "open-loop sweep");
      Plot(a.plot, title, rows);
    }
  }
  std::filesystem::remove_all(scratch);
  // A message_queue named here is ours to remove: it would outlive us in /dev/shm.
  if (t.kind == BackendKind::kBoostMq && a.queue.empty()) RemoveBoostMq(t.queue);
  return rc;
}

}  // namespace
}  // namespace taskring::loadgen

int main(int argc, char** argv) { return taskring::loadgen::Main(argc, argv); }
