// End-to-end with real processes: a taskringd child, forked producer and worker processes
// using the library. Checks the promises of the core queue (no crash involved here).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/retry.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

using test::Daemon;
using test::TempDir;

// Payload with binary bytes and a varying length, so a torn or shifted copy shows.
std::string MakePayload(int producer, int n) {
  std::string p = "p" + std::to_string(producer) + "-" + std::to_string(n) + ":";
  for (int i = 0; i < (n * 7 + producer) % 300; ++i) p.push_back(static_cast<char>((n + i) & 0xff));
  return p;
}

// Runs fn in a forked child; the child's exit code is fn's return value.
template <typename Fn>
pid_t Fork(Fn fn) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) _exit(fn());
  return pid;
}

// A worker child that records "id<TAB>hex(payload)" per completed job into a file.
int WorkerMain(const std::string& queue, const std::string& out_path, uint32_t idle_ms) {
  WorkerOptions wo;
  wo.queue = queue;
  std::unique_ptr<Worker> w;
  if (!Worker::Open(wo, &w).ok()) return 10;
  FILE* out = std::fopen(out_path.c_str(), "w");
  if (out == nullptr) return 11;
  RunOptions ro;
  ro.idle_exit_ms = idle_ms;
  Status s = w->Run(
      [&](const Job& job) {
        std::string hex;
        static const char* d = "0123456789abcdef";
        for (unsigned char c : job.payload()) {
          hex.push_back(d[c >> 4]);
          hex.push_back(d[c & 15]);
        }
        std::fprintf(out, "%llu\t%s\n", static_cast<unsigned long long>(job.id()), hex.c_str());
        return Status::OK();
      },
      ro);
  std::fclose(out);
  return s.ok() ? 0 : 12;
}

std::string Hex(const std::string& s) {
  std::string hex;
  static const char* d = "0123456789abcdef";
  for (unsigned char c : s) {
    hex.push_back(d[c >> 4]);
    hex.push_back(d[c & 15]);
  }
  return hex;
}

std::vector<std::pair<uint64_t, std::string>> ReadRecords(const std::string& path) {
  std::vector<std::pair<uint64_t, std::string>> out;
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return out;
  char* line = nullptr;
  size_t cap = 0;
  while (::getline(&line, &cap, f) > 0) {
    char* tab = std::strchr(line, '\t');
    if (tab == nullptr) continue;
    std::string hex(tab + 1);
    while (!hex.empty() && hex.back() == '\n') hex.pop_back();
    out.emplace_back(std::strtoull(line, nullptr, 10), hex);
  }
  std::free(line);
  std::fclose(f);
  return out;
}

class DeliveryTest : public ::testing::Test {
 protected:
  std::unique_ptr<Producer> OpenProducer() { return test::OpenProducer(queue_); }
  // A worker process that takes one job and is SIGKILLed holding it; returns its exit code.
  int RunWorkerThatDiesHoldingAJob() {
    const pid_t child = Fork([&] {
      auto w = test::OpenWorker(queue_);
      Job job;
      if (!w || !w->Take(&job, 5000).ok()) return 2;
      ::raise(SIGKILL);
      return 3;
    });
    return test::WaitChild(child);
  }
  // Polls the job's status until it is `want` (bounded, 3 s); returns the last state seen.
  static JobState WaitForState(const Producer& prod, uint64_t id, JobState want) {
    JobStatus st;
    for (int i = 0; i < 300 && st.state != want; ++i) {
      if (!prod.GetStatus(id, &st).ok()) break;
      if (st.state != want) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return st.state;
  }
  std::unique_ptr<Worker> OpenWorker() { return test::OpenWorker(queue_); }
  std::string queue_ = test::UniqueQueueName("dlv");
  TempDir tmp_;
};

TEST_F(DeliveryTest, ManyProducersAndWorkersDeliverEveryJobOnceWithItsBytes) {
  Daemon daemon(queue_, tmp_.path() + "/wal", {"--capacity", "512", "--durability", "fsync"});
  ASSERT_TRUE(daemon.Start());
  constexpr int kProducers = 3, kWorkers = 3, kJobs = 1500;
  std::vector<pid_t> workers;
  for (int w = 0; w < kWorkers; ++w) {
    const std::string out = tmp_.path() + "/worker" + std::to_string(w);
    workers.push_back(Fork([&, out] { return WorkerMain(queue_, out, 1500); }));
  }
  std::vector<pid_t> producers;
  for (int p = 0; p < kProducers; ++p) {
    const std::string ids = tmp_.path() + "/producer" + std::to_string(p);
    producers.push_back(Fork([&, p, ids] {
      ProducerOptions po;
      po.queue = queue_;
      std::unique_ptr<Producer> prod;
      if (!Producer::Open(po, &prod).ok()) return 20;
      FILE* f = std::fopen(ids.c_str(), "w");
      RetryPolicy rp;
      rp.max_tries = 1000;
      rp.deadline_ms = 60000;
      // Alternate single enqueues and batches: both paths must keep every byte.
      for (int n = 0; n < kJobs;) {
        if (n % 100 < 50) {
          uint64_t id = 0;
          const std::string payload = MakePayload(p, n);
          if (!EnqueueWithRetry(*prod, payload, &id, rp).ok()) return 21;
          std::fprintf(f, "%llu\t%s\n", static_cast<unsigned long long>(id), Hex(payload).c_str());
          ++n;
        } else {
          std::vector<std::string> payloads;
          for (int k = 0; k < 10 && n + k < kJobs; ++k) payloads.push_back(MakePayload(p, n + k));
          std::vector<std::string_view> views(payloads.begin(), payloads.end());
          std::vector<EnqueueResult> results(views.size());
          if (!prod->EnqueueBatch(views, results).ok()) return 22;
          for (size_t k = 0; k < views.size(); ++k) {
            if (results[k].status.IsBusy()) {
              uint64_t id = 0;
              if (!EnqueueWithRetry(*prod, payloads[k], &id, rp).ok()) return 23;
              results[k].job_id = id;
            } else if (!results[k].status.ok()) {
              return 24;
            }
            std::fprintf(f, "%llu\t%s\n", static_cast<unsigned long long>(results[k].job_id),
                         Hex(payloads[k]).c_str());
          }
          n += static_cast<int>(views.size());
        }
      }
      std::fclose(f);
      return 0;
    }));
  }
  for (pid_t p : producers) EXPECT_EQ(test::WaitChild(p), 0);
  for (pid_t w : workers) EXPECT_EQ(test::WaitChild(w), 0);

  std::map<uint64_t, std::string> accepted;
  for (int p = 0; p < kProducers; ++p) {
    for (auto& [id, hex] : ReadRecords(tmp_.path() + "/producer" + std::to_string(p))) {
      EXPECT_TRUE(accepted.emplace(id, hex).second) << "id " << id << " issued twice";
    }
  }
  ASSERT_EQ(accepted.size(), static_cast<size_t>(kProducers * kJobs));
  std::map<uint64_t, int> completions;
  size_t mismatched = 0, phantom = 0;
  for (int w = 0; w < kWorkers; ++w) {
    for (auto& [id, hex] : ReadRecords(tmp_.path() + "/worker" + std::to_string(w))) {
      ++completions[id];
      auto it = accepted.find(id);
      if (it == accepted.end()) {
        ++phantom;
      } else if (it->second != hex) {
        ++mismatched;
      }
    }
  }
  size_t lost = 0, duplicated = 0;
  for (auto& [id, hex] : accepted) {
    const int n = completions.count(id) ? completions[id] : 0;
    lost += n == 0;
    duplicated += n > 1;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u) << "no process died, so no job may run twice";
  EXPECT_EQ(phantom, 0u);
  EXPECT_EQ(mismatched, 0u);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Log();
}

TEST_F(DeliveryTest, BusyIsExactAtCapacityUnderConcurrentProducers) {
  constexpr int kCapacity = 200, kProducers = 4, kPerProducer = 80;  // 320 tries for 200 places
  Daemon daemon(queue_, tmp_.path() + "/wal",
                {"--capacity", std::to_string(kCapacity), "--durability", "none"});
  ASSERT_TRUE(daemon.Start());
  std::vector<pid_t> pids;
  for (int p = 0; p < kProducers; ++p) {
    pids.push_back(Fork([&] {
      ProducerOptions po;
      po.queue = queue_;
      std::unique_ptr<Producer> prod;
      if (!Producer::Open(po, &prod).ok()) return 255;
      int accepted = 0;
      for (int i = 0; i < kPerProducer; ++i) {
        uint64_t id = 0;
        const Status s = prod->Enqueue("x", &id);
        if (s.ok()) {
          ++accepted;
        } else if (!s.IsBusy()) {
          return 254;
        }
      }
      return accepted;
    }));
  }
  int accepted = 0;
  for (pid_t p : pids) {
    const int code = test::WaitChild(p);
    ASSERT_LE(code, kPerProducer) << "producer failed with " << code;
    accepted += code;
  }
  EXPECT_EQ(accepted, kCapacity);
  std::unique_ptr<Producer> prod = OpenProducer();
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  EXPECT_TRUE(prod->Enqueue("one more", &id).IsBusy());
  EXPECT_GE(prod->RetryAfterMs(), 1u);
  std::unique_ptr<segment::Segment> seg;
  ASSERT_OK(segment::Segment::Attach(queue_, true, &seg));
  EXPECT_EQ(seg->Read(segment::Counter::kAccepted), static_cast<uint64_t>(kCapacity));
  EXPECT_EQ(seg->ReadRejected(segment::RejectReason::kBusy),
            static_cast<uint64_t>(kProducers * kPerProducer - kCapacity + 1));

  // One completion frees exactly one place.
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  ASSERT_OK(worker->Complete(job));
  Status s;
  for (int i = 0; i < 500 && !(s = prod->Enqueue("after", &id)).ok(); ++i) {
    ASSERT_TRUE(s.IsBusy()) << s.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_OK(s);
  EXPECT_TRUE(prod->Enqueue("and no more", &id).IsBusy());
}

TEST_F(DeliveryTest, JobsWaitingAtShutdownAreDeliveredAfterRestart) {
  const std::string wal = tmp_.path() + "/wal";
  std::set<std::string> sent;
  {
    Daemon daemon(queue_, wal, {"--capacity", "100"});
    ASSERT_TRUE(daemon.Start());
    std::unique_ptr<Producer> prod = OpenProducer();
    ASSERT_NE(prod, nullptr);
    for (int i = 0; i < 50; ++i) {
      uint64_t id = 0;
      const std::string payload = MakePayload(9, i);
      ASSERT_OK(prod->Enqueue(payload, &id));
      sent.insert(payload);
    }
    // A worker finishes some before the restart; those must not come back.
    std::unique_ptr<Worker> worker = OpenWorker();
    ASSERT_NE(worker, nullptr);
    for (int i = 0; i < 10; ++i) {
      Job job;
      ASSERT_OK(worker->Take(&job, 5000));
      sent.erase(std::string(job.payload()));
      ASSERT_OK(worker->Complete(job));
    }
    worker.reset();
    prod.reset();
    EXPECT_EQ(daemon.Stop(), 0) << daemon.Log();
  }
  Daemon daemon(queue_, wal, {"--capacity", "100"});
  ASSERT_TRUE(daemon.Start());
  EXPECT_NE(daemon.Log().find("recovered 40 unfinished job(s)"), std::string::npos) << daemon.Log();
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  std::multiset<std::string> got;
  Job job;
  while (worker->Take(&job, 300).ok()) {
    got.insert(std::string(job.payload()));
    ASSERT_OK(worker->Complete(job));
  }
  EXPECT_EQ(got, std::multiset<std::string>(sent.begin(), sent.end()));
  std::unique_ptr<Producer> prod = OpenProducer();
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("new", &id));
  EXPECT_GT(id, 50u) << "ids keep growing across restarts";
}

TEST_F(DeliveryTest, AcceptedJobsSurviveDaemonSigkillInFsyncMode) {
  const std::string wal = tmp_.path() + "/wal";
  std::set<uint64_t> ids;
  {
    Daemon daemon(queue_, wal, {"--capacity", "1000"});
    ASSERT_TRUE(daemon.Start());
    std::unique_ptr<Producer> prod = OpenProducer();
    ASSERT_NE(prod, nullptr);
    for (int i = 0; i < 300; ++i) {
      uint64_t id = 0;
      ASSERT_OK(prod->Enqueue(MakePayload(1, i), &id));
      ids.insert(id);
    }
    daemon.Kill();
    uint64_t id = 0;
    const Status s = prod->Enqueue("after the crash", &id);
    EXPECT_TRUE(s.IsClosed()) << s.ToString();
  }
  Daemon daemon(queue_, wal, {"--capacity", "1000"});
  ASSERT_TRUE(daemon.Start());
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  Job job;
  while (worker->Take(&job, 300).ok()) {
    EXPECT_EQ(ids.erase(job.id()), 1u) << "unknown or repeated job " << job.id();
    ASSERT_OK(worker->Complete(job));
  }
  EXPECT_TRUE(ids.empty()) << ids.size() << " accepted jobs lost";
}

TEST_F(DeliveryTest, FailedJobIsRetriedThenDeadLettered) {
  Daemon daemon(queue_, tmp_.path() + "/wal",
                {"--capacity", "10", "--max-attempts", "3", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(daemon.Start());
  std::unique_ptr<Producer> prod = OpenProducer();
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("flaky", &id));
  JobStatus st;
  ASSERT_OK(prod->GetStatus(id, &st));
  EXPECT_EQ(st.state, JobState::kQueued);
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    Job job;
    ASSERT_OK(worker->Take(&job, 5000));
    EXPECT_EQ(job.id(), id);
    EXPECT_EQ(job.attempt(), attempt);
    ASSERT_OK(prod->GetStatus(id, &st));
    EXPECT_EQ(st.state, JobState::kRunning);
    ASSERT_OK(worker->Fail(job));
    EXPECT_TRUE(worker->Complete(job).IsStaleLease()) << "a finished lease cannot end twice";
  }
  Job job;
  EXPECT_TRUE(worker->Take(&job, 300).IsTimedOut()) << "dead after 3 attempts";
  EXPECT_EQ(WaitForState(*prod, id, JobState::kDead), JobState::kDead);
  EXPECT_TRUE(prod->GetStatus(id + 100, &st).IsNotFound());
}

TEST_F(DeliveryTest, JobOfAWorkerThatDiedIsHandedOutAgain) {
  Daemon daemon(queue_, tmp_.path() + "/wal", {"--capacity", "10"});
  ASSERT_TRUE(daemon.Start());
  std::unique_ptr<Producer> prod = OpenProducer();
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("survives its worker", &id));
  EXPECT_EQ(RunWorkerThatDiesHoldingAJob(), 128 + SIGKILL);
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));  // redelivered after the supervisor notices (~100 ms)
  EXPECT_EQ(job.id(), id);
  EXPECT_EQ(job.attempt(), 2u);
  EXPECT_EQ(job.payload(), "survives its worker");
  ASSERT_OK(worker->Complete(job));
  std::unique_ptr<segment::Segment> seg;
  ASSERT_OK(segment::Segment::Attach(queue_, true, &seg));
  EXPECT_EQ(seg->Read(segment::Counter::kRedelivered), 1u);
}

TEST_F(DeliveryTest, JobThatKillsItsWorkersIsDeadLetteredAfterMaxAttempts) {
  Daemon daemon(queue_, tmp_.path() + "/wal",
                {"--capacity", "10", "--max-attempts", "2", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(daemon.Start());
  std::unique_ptr<Producer> prod = OpenProducer();
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("poison", &id));
  for (int run = 1; run <= 2; ++run) {  // the handler crashes its process, twice
    EXPECT_EQ(RunWorkerThatDiesHoldingAJob(), 128 + SIGKILL) << "run " << run;
  }
  EXPECT_EQ(WaitForState(*prod, id, JobState::kDead), JobState::kDead)
      << "two lost runs count as two attempts";
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  Job job;
  EXPECT_TRUE(worker->Take(&job, 200).IsTimedOut()) << "not handed out a third time";
  std::unique_ptr<segment::Segment> seg;
  ASSERT_OK(segment::Segment::Attach(queue_, true, &seg));
  EXPECT_EQ(seg->Read(segment::Counter::kRedelivered), 1u);
  EXPECT_EQ(seg->Read(segment::Counter::kDead), 1u);
}

TEST_F(DeliveryTest, HandlerExceptionFailsTheJobInsteadOfTheProcess) {
  Daemon daemon(queue_, tmp_.path() + "/wal",
                {"--capacity", "10", "--max-attempts", "2", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(daemon.Start());
  std::unique_ptr<Producer> prod = OpenProducer();
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  ASSERT_OK(prod->Enqueue("throws", &id));
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  int calls = 0;
  RunOptions ro;
  ro.max_jobs = 2;
  ASSERT_OK(worker->Run(
      [&](const Job&) -> Status {
        ++calls;
        throw std::runtime_error("boom");
      },
      ro));
  EXPECT_EQ(calls, 2) << "failed, retried once, then dead";
  EXPECT_EQ(WaitForState(*prod, id, JobState::kDead), JobState::kDead);
}

TEST_F(DeliveryTest, WorkerPoolRunsJobsOnSeveralThreads) {
  Daemon daemon(queue_, tmp_.path() + "/wal", {"--capacity", "1000", "--durability", "none"});
  ASSERT_TRUE(daemon.Start());
  std::unique_ptr<Producer> prod = OpenProducer();
  ASSERT_NE(prod, nullptr);
  std::vector<std::string> payloads;
  for (int i = 0; i < 400; ++i) payloads.push_back("job" + std::to_string(i));
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  std::vector<EnqueueResult> results(views.size());
  ASSERT_OK(prod->EnqueueBatch(views, results));
  for (auto& r : results) ASSERT_OK(r.status);
  std::unique_ptr<Worker> worker = OpenWorker();
  ASSERT_NE(worker, nullptr);
  std::mutex mu;
  std::multiset<std::string> seen;
  std::set<std::thread::id> threads;
  RunOptions ro;
  ro.threads = 4;
  ro.max_jobs = 400;
  ASSERT_OK(worker->Run(
      [&](const Job& job) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        std::lock_guard<std::mutex> lock(mu);
        seen.insert(std::string(job.payload()));
        threads.insert(std::this_thread::get_id());
        return Status::OK();
      },
      ro));
  EXPECT_EQ(seen, std::multiset<std::string>(payloads.begin(), payloads.end()));
  EXPECT_GT(threads.size(), 1u);
}

}  // namespace
}  // namespace taskring
