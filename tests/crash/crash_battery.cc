// Crash battery: producers, workers and the daemon run as real processes; in every round one of
// them, chosen at random, is SIGKILLed at a random moment and restarted. At the end, after the
// queue drains, every accepted job must have been completed with its exact bytes, nothing may
// have been completed that was never enqueued, and duplicates are counted.
//
// Jobs carry random priorities, and some a type ("t1") that one worker in three declares (the
// daemon offers those jobs to it; the others take them when it is dead). A quarter of the
// batches are keyed: each job alone, its payload as idempotency key; a producer restarted after
// a kill first sends again the keyed jobs it never heard back about, with the same key, and
// every keyed payload must end up as exactly one job (key_violations=0).
//
// Jobs give something back (issue 13): the worker completes each with a result derived from
// its payload alone ("r:" + payload; some empty, one in 40 of 16-60 KiB), a quarter fail their
// first attempt with an error and then complete, and the jobs of one unkeyed batch in 16 ("doomed",
// a 'D' after the payload's number, max_attempts 2) fail every attempt and die. Once the queue has
// drained, a JobClient reads back every job that was accepted or ran: it must be terminal, a
// completed one with exactly the expected result bytes, a dead one with its handler's error (or
// the daemon's word that its last run was lost to a kill).
//
//   crash_battery [--rounds N] [--producers P] [--workers W] [--jobs J] [--durability MODE]
//                 [--seed S] [--keep]
//
// Prints one summary line:
//   rounds=… kills=… (daemon=… producer=… worker=…) accepted=… completed=… lost=0 phantom=0
//   corrupt=0 key_violations=0 duplicates=… keyed=… dedup_hits=… redelivered=… leases_expired=…
//   outcomes_checked=… results=… (empty=… large=… bytes=…) dead=… (error_exact=… lost_run=…)
//   bad_result=0 bad_error=0 wrong_state=0 unfinished=0 outcomes_evicted=…
// and exits 0 only if nothing was lost, invented or corrupted, and every outcome read back is
// the expected one.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/process.h"
#include "segment/segment.h"
#include "taskring/job_client.h"
#include "taskring/producer.h"
#include "taskring/worker.h"

namespace taskring::crash {
namespace {

using namespace std::chrono_literals;

std::string SelfPath() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

// Appends one line with a single write(): a line is either wholly in the file or not at all,
// whenever the process is killed (the kernel keeps what write() returned for).
void AppendLine(int fd, const std::string& line) {
  const std::string l = line + "\n";
  ssize_t off = 0;
  while (off < static_cast<ssize_t>(l.size())) {
    const ssize_t n = ::write(fd, l.data() + off, l.size() - off);
    if (n <= 0) return;
    off += n;
  }
}

int OpenLog(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

// --- what a job gives back: a function of its payload alone, so the driver can check it ---
// Payloads are "<p|k><producer>-<n>-<tail>"; a doomed job's tail starts with 'D' (the random
// characters are lowercase letters and digits).
bool Doomed(std::string_view p) {
  const size_t first = p.find('-');
  const size_t second = first == std::string_view::npos ? first : p.find('-', first + 1);
  return second != std::string_view::npos && second + 1 < p.size() && p[second + 1] == 'D';
}

uint64_t Fnv1a(std::string_view p) {
  uint64_t h = 14695981039346656037ull;
  for (char c : p) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// A quarter of the jobs that complete fail their first attempt.
bool FailsFirst(std::string_view p) { return !Doomed(p) && Fnv1a(p) % 4 == 0; }

std::string FirstError(std::string_view p) { return "first attempt fails: " + std::string(p); }
std::string DoomedError(std::string_view p) { return "doomed: " + std::string(p); }

// One in 10 empty; one in 40 of 16-60 KiB (under taskringd's default --max-result of 64 KiB,
// and rare enough that a 1000-round run stays well within the default --result-max-mb);
// else "r:" + payload.
std::string ExpectedResult(std::string_view p) {
  const uint64_t h = Fnv1a(p) >> 8;
  if (h % 10 == 0) return "";
  std::string r = "r:" + std::string(p);
  if (h % 40 == 1) {
    const size_t n = 16384 + (h >> 8) % (60 * 1024 - 16384);
    std::string big;
    big.reserve(n + r.size() + 1);
    while (big.size() < n) big += r + "|";
    big.resize(n);
    return big;
  }
  return r;
}

// --- producer role: enqueue `count` numbered payloads, recording tries and acceptances ---
int ProducerMain(const std::string& queue, const std::string& log, int id, int count,
                 uint64_t seed) {
  const int fd = OpenLog(log);
  std::mt19937_64 rng(seed);
  // Resume numbering after whatever an earlier incarnation of this producer logged; keyed jobs
  // it tried without hearing back are sent again first, under the same key.
  int next = 0;
  std::vector<std::string> unanswered_keyed;
  {
    std::ifstream in(log);
    std::string kind, rest;
    std::set<std::string> answered;
    std::vector<std::string> keyed;
    while (in >> kind) {
      std::getline(in, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (kind == "try" || kind == "tryk") ++next;
      if (kind == "tryk") keyed.push_back(rest);
      if (kind == "ok") answered.insert(rest.substr(rest.find(' ') + 1));
    }
    for (const std::string& p : keyed) {
      if (!answered.count(p)) unanswered_keyed.push_back(p);
    }
  }
  std::unique_ptr<Producer> producer;
  std::vector<std::string> busy;
  auto enqueue_keyed = [&](const std::string& p) -> Status {
    EnqueueOptions eo;
    eo.idempotency_key = p.substr(0, p.find('-', p.find('-') + 1));  // "k<producer>-<n>"
    eo.priority = static_cast<int>(rng() % 10);
    EnqueueResult r;
    const Status s = producer->Enqueue(p, eo, &r);
    if (s.ok()) AppendLine(fd, "ok " + std::to_string(r.job_id) + " " + p);
    // A retry the daemon had already accepted: the key held across the kill.
    if (s.ok() && r.duplicate) AppendLine(fd, "dup " + std::to_string(r.job_id) + " " + p);
    if (s.IsInvalidArgument()) {
      std::fprintf(stderr, "producer %d: %s\n", id, s.ToString().c_str());
      std::exit(3);  // a bug of this battery: retrying would spin forever
    }
    return s;
  };
  while (next < count || !busy.empty() || !unanswered_keyed.empty()) {
    if (!producer) {
      ProducerOptions po;
      po.queue = queue;
      po.attach_timeout_ms = 200;
      if (!Producer::Open(po, &producer).ok()) {
        producer.reset();
        std::this_thread::sleep_for(20ms);
        continue;
      }
    }
    if (!unanswered_keyed.empty()) {
      const Status s = enqueue_keyed(unanswered_keyed.back());
      if (s.ok()) {
        unanswered_keyed.pop_back();
      } else if (!s.IsBusy()) {
        producer.reset();
      }
      continue;
    }
    const int batch = 1 + static_cast<int>(rng() % 16);
    const bool keyed = busy.empty() && rng() % 4 == 0;
    // Payloads offered again after BUSY keep the kind of the batch they came from.
    const bool doomed = busy.empty() ? !keyed && rng() % 16 == 0 : Doomed(busy.front());
    std::vector<std::string> payloads = std::move(busy);
    busy.clear();
    for (int k = static_cast<int>(payloads.size()); k < batch && next < count; ++k, ++next) {
      std::string p = (keyed ? "k" : "p") + std::to_string(id) + "-" + std::to_string(next) + "-";
      if (doomed) p.push_back('D');
      const int len = static_cast<int>(rng() % 200);
      for (int i = 0; i < len; ++i) p.push_back("abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36]);
      AppendLine(fd, (keyed ? "tryk " : "try ") + p);
      payloads.push_back(std::move(p));
    }
    if (keyed) {
      // One at a time (a key names one job); one not answered is sent again, keyed, next.
      for (const std::string& p : payloads) unanswered_keyed.push_back(p);
      std::reverse(unanswered_keyed.begin(), unanswered_keyed.end());
      continue;
    }
    std::vector<std::string_view> views(payloads.begin(), payloads.end());
    std::vector<EnqueueResult> results(views.size());
    EnqueueOptions eo;
    eo.priority = static_cast<int>(rng() % 10);
    if (rng() % 3 == 0) eo.type = "t1";
    if (doomed) eo.max_attempts = 2;
    const Status s = producer->EnqueueBatch(views, results, eo);
    for (size_t i = 0; i < views.size(); ++i) {
      if (s.ok() && results[i].status.ok()) {
        AppendLine(fd, "ok " + std::to_string(results[i].job_id) + " " + payloads[i]);
      } else if (s.ok() && results[i].status.IsBusy()) {
        busy.push_back(payloads[i]);  // back pressure: offer the same payload again
      }
    }
    // Items whose outcome is unknown (the daemon died) are not counted as accepted; they may
    // still run, which is fine: they were enqueued.
    if (!s.ok()) producer.reset();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
  }
  return 0;
}

// --- worker role: run jobs forever, logging each one before finishing it ---
int WorkerMain(const std::string& queue, const std::string& log, bool typed) {
  const int fd = OpenLog(log);
  std::mt19937_64 rng(std::random_device{}());
  for (;;) {
    std::unique_ptr<Worker> worker;
    WorkerOptions wo;
    wo.queue = queue;
    wo.attach_timeout_ms = 200;
    if (typed) wo.types = {"t1", ""};  // offered t1 jobs; takes untyped ones from the rings
    if (!Worker::Open(wo, &worker).ok()) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    RunOptions ro;
    // Half the time in batches (TakeMany / CompleteMany), so kills land mid-batch too.
    ro.batch = rng() % 2 == 0 ? 1 : 2 + static_cast<uint32_t>(rng() % 15);
    // Reattach when the daemon is replaced; the error is expected in this battery.
    (void)worker->Run(
        [&](const Job& job, std::string* result) {
          const std::string_view p = job.payload();
          AppendLine(fd, "done " + std::to_string(job.id()) + " " + std::to_string(job.attempt()) +
                             " " + std::string(p));
          // Work after the side effect: a kill here runs the job again (a counted duplicate).
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
          if (Doomed(p)) return Status::IOError(DoomedError(p));
          if (FailsFirst(p) && job.attempt() == 1) return Status::IOError(FirstError(p));
          *result = ExpectedResult(p);
          return Status::OK();
        },
        ro);
  }
}

// --- driver ---
struct Options {
  int rounds = 30;
  int producers = 3;
  int workers = 3;
  int jobs = 3000;  // per producer
  std::string durability = "fsync";
  uint64_t seed = 0;
  bool keep = false;
};

class Battery {
 public:
  explicit Battery(const Options& o) : o_(o), rng_(o.seed) {
    char tmpl[] = "/tmp/taskring-crash-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    queue_ = "crash" + std::to_string(::getpid());
  }
  ~Battery() {
    for (pid_t p : producers_) harness::KillAndWait(p);
    for (pid_t p : workers_) harness::KillAndWait(p);
    daemon_.Kill();
    segment::Segment::Remove(queue_);
    ::unlink(segment::LockPath(queue_).c_str());
    if (!o_.keep) std::filesystem::remove_all(dir_);
  }

  int Run() {
    if (!StartDaemon()) return 2;
    for (int i = 0; i < o_.workers; ++i) workers_.push_back(StartWorker(i));
    for (int i = 0; i < o_.producers; ++i) producers_.push_back(StartProducer(i));
    int kills_daemon = 0, kills_producer = 0, kills_worker = 0;
    for (int round = 0; round < o_.rounds; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng_() % 250));
      const int what = static_cast<int>(rng_() % 3);
      if (what == 0) {
        daemon_.Kill();
        ++kills_daemon;
        if (!StartDaemon()) return 2;
      } else if (what == 1) {
        const size_t i = rng_() % producers_.size();
        Kill(producers_[i]);
        ++kills_producer;
        producers_[i] = StartProducer(static_cast<int>(i));
      } else {
        const size_t i = rng_() % workers_.size();
        Kill(workers_[i]);
        ++kills_worker;
        workers_[i] = StartWorker(static_cast<int>(i));
      }
    }
    // Let producers finish their numbered jobs (restarting any that exit), then drain.
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    for (size_t i = 0; i < producers_.size(); ++i) {
      int status = 0;
      while (::waitpid(producers_[i], &status, 0) < 0 && errno == EINTR) {
      }
      producers_[i] = -1;
    }
    Tally t;
    while (std::chrono::steady_clock::now() < deadline) {
      t = Read();
      if (t.lost == 0) break;
      std::this_thread::sleep_for(200ms);
    }
    // Every job that was accepted or ran must end, and give back exactly what it should.
    CheckOutcomes(std::chrono::steady_clock::now() + 120s, &t);
    uint64_t redelivered = 0, expired = 0, dedup_hits = 0, outcomes_evicted = 0;
    {
      std::unique_ptr<segment::Segment> seg;
      if (segment::Segment::Attach(queue_, true, &seg).ok()) {
        redelivered = seg->Read(segment::Counter::kRedelivered);
        expired = seg->Read(segment::Counter::kLeasesExpired);
        dedup_hits = seg->Read(segment::Counter::kDedupHits);  // since the last daemon start
        outcomes_evicted = seg->Read(segment::Counter::kOutcomesEvicted);  // likewise
      }
    }
    const Outcomes& oc = t.outcomes;
    std::printf(
        "rounds=%d kills=%d (daemon=%d producer=%d worker=%d) accepted=%zu completed=%zu "
        "lost=%zu phantom=%zu corrupt=%zu key_violations=%zu duplicates=%zu keyed=%zu "
        "keyed_retries_answered_duplicate=%zu dedup_hits=%llu redelivered=%llu "
        "leases_expired=%llu outcomes_checked=%zu results=%zu (empty=%zu large=%zu bytes=%llu "
        "failed_first=%zu) dead=%zu (error_exact=%zu lost_run=%zu) bad_result=%zu bad_error=%zu "
        "wrong_state=%zu unfinished=%zu doomed_unrun=%zu outcomes_evicted=%llu durability=%s "
        "seed=%llu\n",
        o_.rounds, kills_daemon + kills_producer + kills_worker, kills_daemon, kills_producer,
        kills_worker, t.accepted, t.completed, t.lost, t.phantom, t.corrupt, t.key_violations,
        t.duplicates, t.keyed, t.keyed_retried_duplicates,
        static_cast<unsigned long long>(dedup_hits), static_cast<unsigned long long>(redelivered),
        static_cast<unsigned long long>(expired), oc.checked, oc.results, oc.empty, oc.large,
        static_cast<unsigned long long>(oc.result_bytes), oc.failed_first, oc.dead, oc.error_exact,
        oc.lost_run, oc.bad_result, oc.bad_error, oc.wrong_state, oc.unfinished, t.doomed_unrun,
        static_cast<unsigned long long>(outcomes_evicted), o_.durability.c_str(),
        static_cast<unsigned long long>(o_.seed));
    for (const std::string& line : t.examples) std::fprintf(stderr, "  %s\n", line.c_str());
    std::fflush(stdout);
    const bool ok = t.lost == 0 && t.phantom == 0 && t.corrupt == 0 && t.key_violations == 0 &&
                    t.accepted > 0 && t.keyed > 0 && oc.checked >= t.accepted &&
                    oc.bad_result == 0 && oc.bad_error == 0 && oc.wrong_state == 0 &&
                    oc.unfinished == 0 && oc.results > 0 && oc.dead > 0;
    if (!ok) std::fprintf(stderr, "crash_battery: FAILED (files kept in %s)\n", dir_.c_str());
    if (!ok) o_.keep = true;
    return ok ? 0 : 1;
  }

 private:
  // What JobClient read back for the jobs that were accepted or ran.
  struct Outcomes {
    size_t checked = 0;  // terminal jobs read back
    size_t results = 0, empty = 0, large = 0, failed_first = 0;
    uint64_t result_bytes = 0;
    size_t dead = 0, error_exact = 0, lost_run = 0;
    // Failures: a result not byte-identical to the expected one (or missing); a dead job's
    // error that is neither its handler's nor a lost run's; a job completed that should have
    // died or the reverse (or cancelled, expired, unknown); not terminal by the deadline.
    size_t bad_result = 0, bad_error = 0, wrong_state = 0, unfinished = 0;
  };
  struct Tally {
    size_t accepted = 0, completed = 0, lost = 0, phantom = 0, corrupt = 0, duplicates = 0;
    size_t key_violations = 0, keyed = 0, keyed_retried_duplicates = 0, doomed_unrun = 0;
    std::map<uint64_t, std::string> jobs;  // accepted or ran: id -> payload
    std::set<uint64_t> ran;                // ids a handler ran
    Outcomes outcomes;
    std::vector<std::string> examples;
  };

  static void Kill(pid_t& pid) {
    harness::KillAndWait(pid);
    pid = -1;
  }

  static pid_t Spawn(const std::vector<std::string>& args, const std::string& err_path) {
    harness::SpawnOptions so;
    so.stderr_path = err_path;
    return harness::Spawn(args, so);
  }

  bool StartDaemon() {
    harness::DaemonProcess::Options po;
    po.log_path = dir_ + "/daemon.log";
    const Status s = daemon_.Start(
        std::string(TASKRING_BIN_DIR) + "/taskringd",
        {"--queue", queue_, "--dir", dir_ + "/wal", "--capacity", "512", "--durability",
         o_.durability, "--lease-ms", "2000", "--retry-backoff-ms", "0", "--max-attempts", "255",
         "--wal-segment-mb", "1", "--metrics-listen", "127.0.0.1:0"},
        po);
    if (s.ok()) return true;
    std::fprintf(stderr, "crash_battery: daemon did not start: %s\n", s.ToString().c_str());
    o_.keep = true;
    return false;
  }

  pid_t StartProducer(int i) {
    return Spawn({SelfPath(), "producer", queue_, dir_ + "/producer" + std::to_string(i),
                  std::to_string(i), std::to_string(o_.jobs), std::to_string(rng_())},
                 dir_ + "/producer.err");
  }
  pid_t StartWorker(int i) {
    return Spawn({SelfPath(), "worker", queue_, dir_ + "/worker" + std::to_string(i),
                  i % 3 == 2 ? "typed" : "any"},
                 dir_ + "/worker.err");
  }

  Tally Read() {
    Tally t;
    std::set<std::string> tried;
    std::map<uint64_t, std::string> accepted;
    std::map<std::string, std::set<uint64_t>> keyed_ids;
    for (int i = 0; i < o_.producers; ++i) {
      std::ifstream in(dir_ + "/producer" + std::to_string(i));
      std::string kind;
      while (in >> kind) {
        if (kind == "try" || kind == "tryk") {
          std::string p;
          in >> p;
          tried.insert(p);
        } else if (kind == "ok") {
          uint64_t id;
          std::string p;
          in >> id >> p;
          accepted[id] = p;
          if (p[0] == 'k') keyed_ids[p].insert(id);
        } else if (kind == "dup") {
          uint64_t id;
          std::string p;
          in >> id >> p;
          ++t.keyed_retried_duplicates;
        }
      }
    }
    // A keyed payload answered with two ids, or run under two ids, broke its key.
    for (const auto& [p, ids] : keyed_ids) {
      if (ids.size() > 1) {
        ++t.key_violations;
        if (t.examples.size() < 5) t.examples.push_back("key answered twice: " + p);
      }
    }
    std::map<std::string, std::set<uint64_t>> keyed_runs;
    std::map<uint64_t, int> runs;
    std::map<uint64_t, std::string> ran;
    for (int i = 0; i < o_.workers; ++i) {
      std::ifstream in(dir_ + "/worker" + std::to_string(i));
      std::string kind, p;
      uint64_t id;
      uint32_t attempt;
      while (in >> kind >> id >> attempt) {
        std::getline(in, p);
        if (!p.empty() && p[0] == ' ') p.erase(0, 1);
        ++runs[id];
        ran.emplace(id, p);
        if (!p.empty() && p[0] == 'k') keyed_runs[p].insert(id);
        if (!tried.count(p)) {
          ++t.phantom;
          if (t.examples.size() < 5) t.examples.push_back("phantom: job " + std::to_string(id));
        } else if (accepted.count(id) && accepted[id] != p) {
          ++t.corrupt;
          if (t.examples.size() < 5) t.examples.push_back("corrupt: job " + std::to_string(id));
        }
      }
    }
    for (const auto& [p, ids] : keyed_runs) {
      if (ids.size() > 1) {
        ++t.key_violations;
        if (t.examples.size() < 5) t.examples.push_back("key ran as two jobs: " + p);
      }
    }
    t.keyed = keyed_ids.size();
    t.accepted = accepted.size();
    t.jobs = accepted;
    t.jobs.insert(ran.begin(), ran.end());  // ran with an unknown enqueue outcome: enqueued
    for (const auto& [id, p] : ran) t.ran.insert(id);
    for (const auto& [id, p] : accepted) {
      auto it = runs.find(id);
      if (it == runs.end() && Doomed(p)) {
        // Both of its attempts can be lost to kills before its handler starts (a worker killed
        // holding it, a daemon killed while it was leased): it is then dead without a run, and
        // CheckOutcomes requires exactly that (lost_run).
        ++t.doomed_unrun;
      } else if (it == runs.end()) {
        ++t.lost;
        if (t.examples.size() < 5) t.examples.push_back("lost: job " + std::to_string(id));
      }
    }
    for (const auto& [id, n] : runs) {
      ++t.completed;
      // Runs beyond the ones its plan asks for: two for a job that fails its first attempt
      // or is doomed (max_attempts 2), one for the others. (A kill that takes the place of a
      // planned failure goes uncounted.)
      const std::string& p = ran[id];
      const int planned = Doomed(p) || FailsFirst(p) ? 2 : 1;
      t.duplicates += static_cast<size_t>(std::max(0, n - planned));
    }
    return t;
  }

  // Reads back, through a JobClient, every job in t->jobs until each is terminal or the
  // deadline passes, and checks what each gave back (see Outcomes).
  void CheckOutcomes(std::chrono::steady_clock::time_point deadline, Tally* t) {
    Outcomes& oc = t->outcomes;
    auto example = [&](const std::string& line) {
      if (t->examples.size() < 10) t->examples.push_back(line);
    };
    std::unique_ptr<JobClient> client;
    JobClientOptions jo;
    jo.queue = queue_;
    while (!JobClient::Open(jo, &client).ok()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        oc.unfinished = t->jobs.size();
        example("no JobClient could attach to read the outcomes back");
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    std::map<uint64_t, std::string> waiting = t->jobs;
    for (;;) {
      for (auto it = waiting.begin(); it != waiting.end();) {
        const uint64_t id = it->first;
        const std::string& p = it->second;
        JobStatus st;
        const Status s = client->GetStatus(id, &st);
        if (s.ok() && !IsTerminal(st.state)) {
          ++it;
          continue;
        }
        ++oc.checked;
        const std::string job = "job " + std::to_string(id) + " (" + p.substr(0, 24) + ")";
        if (!s.ok()) {
          ++oc.wrong_state;
          example(job + ": GetStatus " + s.ToString());
        } else if (Doomed(p) && st.state == JobState::kDead) {
          ++oc.dead;
          if (st.error == DoomedError(p) && t->ran.count(id) != 0) {
            ++oc.error_exact;
          } else if (st.error.rfind("the worker process died", 0) == 0 ||
                     st.error.rfind("lease expired", 0) == 0) {
            ++oc.lost_run;  // its last attempt was killed: the daemon's word, not the handler's
          } else {
            ++oc.bad_error;
            example(job + ": dead with error '" + st.error.substr(0, 80) + "'");
          }
        } else if (!Doomed(p) && st.state == JobState::kCompleted) {
          const std::string want = ExpectedResult(p);
          std::string got;
          const Status r = client->GetResult(id, &got);
          if (!r.ok() || got != want || st.result_bytes != want.size()) {
            ++oc.bad_result;
            example(job + ": result of " + std::to_string(got.size()) + " bytes (status says " +
                    std::to_string(st.result_bytes) + "), expected " + std::to_string(want.size()) +
                    (r.ok() ? "" : ": " + r.ToString()));
          } else if (FailsFirst(p) && st.attempt < 2) {
            ++oc.wrong_state;  // its first attempt cannot have completed
            example(job + ": completed by attempt " + std::to_string(st.attempt));
          } else {
            ++oc.results;
            oc.empty += want.empty();
            oc.large += want.size() > 16000;
            oc.failed_first += FailsFirst(p);
            oc.result_bytes += want.size();
          }
        } else {
          ++oc.wrong_state;
          example(job + ": " + JobStateName(st.state) + (Doomed(p) ? ", doomed" : ""));
        }
        it = waiting.erase(it);
      }
      if (waiting.empty() || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(200ms);
    }
    oc.unfinished = waiting.size();
    for (const auto& [id, p] : waiting) example("not terminal: job " + std::to_string(id));
  }

  Options o_;
  std::mt19937_64 rng_;
  std::string dir_, queue_;
  harness::DaemonProcess daemon_;
  std::vector<pid_t> producers_, workers_;
};

}  // namespace
}  // namespace taskring::crash

int main(int argc, char** argv) {
  using namespace taskring::crash;
  if (argc >= 2 && std::strcmp(argv[1], "producer") == 0 && argc == 7) {
    return ProducerMain(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]),
                        std::strtoull(argv[6], nullptr, 10));
  }
  if (argc >= 2 && std::strcmp(argv[1], "worker") == 0 && argc == 5) {
    return WorkerMain(argv[2], argv[3], std::strcmp(argv[4], "typed") == 0);
  }
  Options o;
  o.seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "crash_battery: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--rounds")
      o.rounds = std::atoi(value().c_str());
    else if (a == "--producers")
      o.producers = std::atoi(value().c_str());
    else if (a == "--workers")
      o.workers = std::atoi(value().c_str());
    else if (a == "--jobs")
      o.jobs = std::atoi(value().c_str());
    else if (a == "--durability")
      o.durability = value();
    else if (a == "--seed")
      o.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--keep")
      o.keep = true;
    else {
      std::fprintf(stderr,
                   "usage: crash_battery [--rounds N] [--producers P] [--workers W] [--jobs J] "
                   "[--durability fsync|interval|none] [--seed S] [--keep]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (o.rounds < 0 || o.producers < 1 || o.workers < 1 || o.jobs < 1) {
    std::fprintf(stderr, "crash_battery: counts must be positive\n");
    return 2;
  }
  Battery b(o);
  return b.Run();
}
