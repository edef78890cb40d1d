// Disk full, EIO from fdatasync, and power loss, injected into a real taskringd with an
// LD_PRELOAD shim (fault_shim.cc): nothing accepted may be lost, producers get a clear error
// (never BUSY) while the disk refuses, and the queue resumes when it recovers. What jobs give
// back (results, errors) is as durable as their completion: see the outcome tests at the end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "http/http_test_util.h"
#include "outcome/outcome_record.h"
#include "segment/segment.h"
#include "taskring/job_client.h"
#include "taskring/producer.h"
#include "taskring/queue_control.h"
#include "taskring/worker.h"
#include "test_util.h"
#include "wal/wal_segment.h"

namespace taskring {
namespace {

using namespace std::chrono_literals;

// --- What the jobs of the outcome tests give back: a function of the payload alone ---
// Payload "job-<i>-xxx…". Doomed jobs (enqueued with max_attempts 1) fail with an error and
// die; a quarter of the others fail their first attempt, then complete. Results: empty for one
// in 10, 20-60 KiB for one in 7 (under the default --max-result of 64 KiB), else "r:" + payload.
std::string PayloadOf(int i) {
  return "job-" + std::to_string(i) + "-" + std::string(i % 300, 'x');
}
int IndexOf(std::string_view payload) { return std::stoi(std::string(payload.substr(4))); }
bool DoomedJob(int i) { return i % 11 == 3; }
bool FailsFirstJob(int i) { return !DoomedJob(i) && i % 4 == 1; }
std::string ErrorOf(std::string_view payload) { return "doomed: " + std::string(payload); }
std::string ResultOf(std::string_view payload) {
  const int i = IndexOf(payload);
  if (i % 10 == 0) return "";
  std::string r = "r:" + std::string(payload);
  if (i % 7 == 1) {
    const size_t n = 20000 + static_cast<size_t>(i) * 7919 % 40000;
    std::string big;
    while (big.size() < n) big += r + "|";
    big.resize(n);
    return big;
  }
  return r;
}

class StorageFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctl_ = tmp_.path() + "/ctl";
    std::filesystem::create_directories(ctl_);
    wal_ = tmp_.path() + "/wal";
  }
  std::vector<std::string> ShimEnv() const {
    return {std::string("LD_PRELOAD=") + TASKRING_FAULT_SHIM, "TASKRING_FAULT_DIR=" + ctl_,
            "TASKRING_SYNC_LOG=" + tmp_.path() + "/synced",
            // A sanitized daemon must accept a preloaded library ahead of its runtime.
            "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"};
  }
  void Fault(const std::string& name, bool on) {
    const std::string path = ctl_ + "/" + name;
    if (on) {
      std::ofstream(path) << "1";
    } else {
      std::filesystem::remove(path);
    }
  }
  bool WaitForState(segment::DaemonState want) {
    for (int i = 0; i < 500; ++i) {
      std::unique_ptr<segment::Segment> seg;
      if (segment::Segment::Attach(queue_, true, &seg).ok() &&
          seg->header()->daemon_state.load() == static_cast<uint32_t>(want)) {
        return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  // Takes every job the queue has; returns their payloads.
  std::multiset<std::string> Drain() {
    std::multiset<std::string> got;
    auto w = test::OpenWorker(queue_);
    if (!w) return got;
    Job job;
    while (w->Take(&job, 500).ok()) {
      got.insert(std::string(job.payload()));
      EXPECT_OK(w->Complete(job));
    }
    return got;
  }

  // A power loss: each WAL segment and outcome file is cut back to its size at its last
  // successful fdatasync, as the shim logged it (one never synced is emptied). Returns the
  // bytes cut off.
  uintmax_t CutToSynced() {
    std::map<std::string, uintmax_t> synced;
    {
      std::ifstream log(tmp_.path() + "/synced");
      std::string path;
      uintmax_t size = 0;
      while (log >> path >> size) synced[path] = size;
    }
    uintmax_t cut = 0;
    for (const auto& [dir, ext] :
         {std::pair<std::string, std::string>{wal_, ".log"}, {wal_ + "/outcomes", ".out"}}) {
      if (!std::filesystem::is_directory(dir)) continue;
      for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ext) continue;
        const auto it = synced.find(e.path().string());
        const uintmax_t keep = std::min(it == synced.end() ? 0 : it->second, e.file_size());
        cut += e.file_size() - keep;
        std::filesystem::resize_file(e.path(), keep);
      }
    }
    return cut;
  }
  std::unique_ptr<JobClient> OpenJobClient() {
    JobClientOptions o;
    o.queue = queue_;
    std::unique_ptr<JobClient> jc;
    EXPECT_OK(JobClient::Open(o, &jc));
    return jc;
  }
  static EnqueueOptions OptionsOf(int i) {
    EnqueueOptions o;
    if (DoomedJob(i)) o.max_attempts = 1;
    return o;
  }
  // Runs a job as the outcome tests' handler would. True if that ended it (completed, or failed
  // for good), so JobClient::Wait returns.
  static bool Handle(Worker& w, const Job& job) {
    const std::string p(job.payload());
    const int i = IndexOf(p);
    if (DoomedJob(i)) {
      EXPECT_OK(w.Fail(job, ErrorOf(p)));
      return true;
    }
    if (FailsFirstJob(i) && job.attempt() == 1) {
      EXPECT_OK(w.Fail(job, "first attempt fails"));
      return false;
    }
    EXPECT_OK(w.Complete(job, ResultOf(p)));
    return true;
  }
  // What is wrong with the job's outcome ("" if nothing): completed with exactly its result,
  // or, doomed, dead with exactly its error. Waits up to 5 s for it to end.
  static std::string CheckOutcome(JobClient& jc, uint64_t id, const std::string& payload) {
    JobStatus st;
    const Status s = jc.Wait(id, 5000, &st);
    const std::string job = "job " + std::to_string(id) + " (" + payload.substr(0, 12) + "): ";
    if (!s.ok()) return job + s.ToString();
    const bool doomed = DoomedJob(IndexOf(payload));
    if (st.state != (doomed ? JobState::kDead : JobState::kCompleted)) {
      return job + JobStateName(st.state);
    }
    if (doomed) return st.error == ErrorOf(payload) ? "" : job + "error '" + st.error + "'";
    std::string got;
    const Status r = jc.GetResult(id, &got);
    if (!r.ok()) return job + r.ToString();
    const std::string want = ResultOf(payload);
    if (got != want || st.result_bytes != want.size()) {
      return job + "result of " + std::to_string(got.size()) + " bytes, expected " +
             std::to_string(want.size());
    }
    return "";
  }
  // CheckOutcome for each id in `ids`: how many are wrong; the first few in *why.
  static size_t CheckOutcomes(JobClient& jc, const std::set<uint64_t>& ids,
                              const std::map<uint64_t, std::string>& payloads, std::string* why) {
    size_t bad = 0;
    for (uint64_t id : ids) {
      const std::string w = CheckOutcome(jc, id, payloads.at(id));
      if (w.empty()) continue;
      if (++bad <= 5) *why += w + "\n";
    }
    return bad;
  }
  // Takes and runs every job the queue hands out until none comes for a second. Fails the test
  // for a job it does not know, or one of `must_not_run`; returns the ids that ran.
  std::set<uint64_t> RunAll(const std::map<uint64_t, std::string>& jobs,
                            const std::set<uint64_t>& must_not_run) {
    std::set<uint64_t> ran;
    auto w = test::OpenWorker(queue_);
    if (!w) return ran;
    Job job;
    while (w->Take(&job, 1000).ok()) {
      const auto it = jobs.find(job.id());
      if (it == jobs.end()) {
        ADD_FAILURE() << "job " << job.id() << " was never accepted";
      } else {
        EXPECT_EQ(job.payload(), it->second);
      }
      EXPECT_EQ(must_not_run.count(job.id()), 0u) << "job " << job.id() << " ran again";
      ran.insert(job.id());
      (void)Handle(*w, job);
    }
    return ran;
  }
  static std::set<uint64_t> Ids(const std::map<uint64_t, std::string>& jobs) {
    std::set<uint64_t> ids;
    for (const auto& [id, payload] : jobs) ids.insert(id);
    return ids;
  }

  std::string queue_ = test::UniqueQueueName("fault");
  test::TempDir tmp_;
  std::string ctl_, wal_;
};

TEST_F(StorageFaultTest, DiskFullRefusesNewJobsKeepsAcceptedOnesAndResumes) {
  test::Daemon d(queue_, wal_);
  d.SetEnv(ShimEnv());
  ASSERT_TRUE(d.Start());
  auto p = test::OpenProducer(queue_);
  uint64_t id = 0;
  ASSERT_OK(p->Enqueue("before", &id));

  Fault("write_enospc", true);
  // This job reaches the daemon but cannot be logged: the call waits (it is not refused, its
  // outcome is still open) ...
  auto in_flight = std::async(std::launch::async, [&] {
    auto p2 = test::OpenProducer(queue_);
    uint64_t id2 = 0;
    return p2->Enqueue("during", &id2);
  });
  // ... the daemon notices the disk is full and refuses new work with a clear error, not BUSY.
  ASSERT_TRUE(WaitForState(segment::DaemonState::kRefusing));
  Status s = p->Enqueue("refused", &id);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("storage"), std::string::npos) << s.ToString();
  // The CLI answers each record with that error and reads on: a refusing daemon is no outage to
  // wait out, and no reason to give up on the records after it.
  const test::CommandResult cli = test::RunCommand(
      {test::BinDir() + "/taskring", "enqueue", "--queue", queue_, "--wait", "5"}, "x\ny\n");
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_EQ(std::count(cli.out.begin(), cli.out.end(), '\n'), 2) << cli.out;
  EXPECT_EQ(cli.out.rfind("error IOError: daemon for queue", 0), 0u) << cli.out;
  EXPECT_EQ(cli.err.find("giving up"), std::string::npos) << cli.err;
  EXPECT_EQ(in_flight.wait_for(300ms), std::future_status::timeout);
  // The HTTP gateway answers 503 with the reason, not a 202 and not a hang.
  test::GatewayProcess gateway({"--listen", "127.0.0.1:0", "--queue", queue_},
                               tmp_.path() + "/http.log");
  ASSERT_TRUE(gateway.Start());
  test::HttpClient http(gateway.host(), gateway.port());
  const test::HttpReply reply = http.Post("/queues/" + queue_ + "/jobs", "over http");
  EXPECT_EQ(reply.status, 503) << reply.body << reply.error;
  EXPECT_NE(reply.body.find("\"reason\":\"daemon_refusing\""), std::string::npos) << reply.body;
  EXPECT_EQ(reply.Header("retry-after"), "") << "not a full queue";

  Fault("write_enospc", false);  // space is back
  EXPECT_OK(in_flight.get());
  for (int i = 0; i < 200 && !(s = p->Enqueue("after", &id)).ok(); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_OK(s);
  EXPECT_EQ(Drain(), (std::multiset<std::string>{"after", "before", "during"}));
  EXPECT_NE(d.Log().find("refusing new jobs"), std::string::npos) << d.Log();
  EXPECT_NE(d.Log().find("succeed again"), std::string::npos) << d.Log();
}

TEST_F(StorageFaultTest, FailedFdatasyncMovesToAFreshSegmentAndLosesNothing) {
  {
    test::Daemon d(queue_, wal_);
    d.SetEnv(ShimEnv());
    ASSERT_TRUE(d.Start());
    auto p = test::OpenProducer(queue_);
    uint64_t id = 0;
    ASSERT_OK(p->Enqueue("one", &id));
    Fault("fsync_eio", true);
    auto in_flight = std::async(std::launch::async, [&] {
      auto p2 = test::OpenProducer(queue_);
      uint64_t id2 = 0;
      return p2->Enqueue("two", &id2);
    });
    EXPECT_EQ(in_flight.wait_for(300ms), std::future_status::timeout)
        << "never Accepted while fdatasync fails";
    Fault("fsync_eio", false);
    EXPECT_OK(in_flight.get());
    ASSERT_OK(p->Enqueue("three", &id));
    EXPECT_NE(d.Log().find("fdatasync had failed; continued in segment"), std::string::npos)
        << d.Log();
    p.reset();
    EXPECT_EQ(d.Stop(), 0);
  }
  // A restart must recover all three, with no corruption left in the middle of the log.
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  EXPECT_EQ(Drain(), (std::multiset<std::string>{"one", "three", "two"}));
}

TEST_F(StorageFaultTest, PowerLossKeepsEveryAcceptedJobInFsyncMode) {
  std::set<std::string> accepted;
  {
    // A long --interval-ms: completion records wait for the next enqueue's sync, so the
    // completions at the end below are written but never synced when the power fails.
    // Appending (no zeros written ahead): the shim's power loss cuts each file to its size at
    // the last sync, which cannot undo overwrites of zero-filled space. The in-process tests on
    // FaultInjectionEnv (wal_test, engine_test) lose power on zero-filled segments.
    test::Daemon d(queue_, wal_,
                   {"--wal-segment-mb", "1", "--interval-ms", "60000", "--capacity", "4096",
                    "--wal-prewrite-kb", "0"});
    d.SetEnv(ShimEnv());
    ASSERT_TRUE(d.Start());
    auto p = test::OpenProducer(queue_);
    auto w = test::OpenWorker(queue_);
    for (int i = 0; i < 3000; ++i) {
      const std::string payload = "job-" + std::to_string(i) + std::string(i % 500, 'x');
      uint64_t id = 0;
      ASSERT_OK(p->Enqueue(payload, &id));
      accepted.insert(payload);
      if (i % 3 == 0) {  // completions too, so the cut also hits unsynced COMPLETE records
        Job job;
        ASSERT_OK(w->Take(&job, 5000));
        accepted.erase(std::string(job.payload()));
        ASSERT_OK(w->Complete(job));
      }
    }
    for (int i = 0; i < 50; ++i) {
      Job job;
      ASSERT_OK(w->Take(&job, 5000));
      accepted.erase(std::string(job.payload()));  // may come back: at-least-once
      ASSERT_OK(w->Complete(job));
    }
    std::this_thread::sleep_for(300ms);  // the daemon writes the COMPLETE records (no sync)
    d.Kill();
  }
  // The power fails: every WAL file loses what was written after its last successful sync.
  std::map<std::string, uintmax_t> synced;
  {
    std::ifstream log(tmp_.path() + "/synced");
    std::string path;
    uintmax_t size = 0;
    while (log >> path >> size) synced[path] = size;
  }
  uintmax_t cut = 0;
  for (const auto& e : std::filesystem::directory_iterator(wal_)) {
    if (e.path().extension() != ".log") continue;
    const auto it = synced.find(e.path().string());
    const uintmax_t keep = it == synced.end() ? 0 : it->second;
    cut += e.file_size() - std::min(keep, e.file_size());
    std::filesystem::resize_file(e.path(), std::min(keep, e.file_size()));
  }
  EXPECT_GT(cut, 0u) << "the test must actually throw unsynced data away";
  test::Daemon d(queue_, wal_, {"--capacity", "4096"});
  ASSERT_TRUE(d.Start());
  const std::multiset<std::string> got = Drain();
  size_t lost = 0;
  for (const std::string& a : accepted) lost += got.count(a) == 0;
  EXPECT_EQ(lost, 0u) << "cut " << cut << " unsynced bytes; " << accepted.size()
                      << " jobs were accepted and not completed";
  // Completed jobs may come back (their COMPLETE was not synced): that is at-least-once.
}

TEST_F(StorageFaultTest, PowerLossKeepsJobOptionsKeysAndCancellations) {
  const std::vector<std::string> args = {"--wal-segment-mb",  "1", "--capacity", "4096",
                                         "--wal-prewrite-kb", "0"};
  std::map<std::string, uint64_t> ids;  // key -> accepted id
  {
    test::Daemon d(queue_, wal_, args);
    d.SetEnv(ShimEnv());
    ASSERT_TRUE(d.Start());
    auto p = test::OpenProducer(queue_);
    ASSERT_NE(p, nullptr);
    for (int i = 0; i < 100; ++i) ASSERT_OK(p->Enqueue("cancel-me", nullptr));
    ProducerOptions po;
    po.queue = queue_;
    std::unique_ptr<QueueControl> ctl;
    ASSERT_OK(QueueControl::Open(po, &ctl));
    uint64_t cancelled = 0;
    ASSERT_OK(ctl->Purge(&cancelled));  // CANCEL records, synced before the answer
    ASSERT_EQ(cancelled, 100u);
    for (int i = 0; i < 300; ++i) {
      EnqueueOptions o;
      o.idempotency_key = "key-" + std::to_string(i);
      o.priority = i % 10;
      o.type = i % 2 == 0 ? "even" : "";
      o.headers = {{"n", std::to_string(i)}};
      o.timeout_ms = 1000 + i;
      EnqueueResult r;
      ASSERT_OK(p->Enqueue("keep-" + std::to_string(i), o, &r));
      ids[o.idempotency_key] = r.job_id;
    }
    d.Kill();
  }
  std::map<std::string, uintmax_t> synced;
  {
    std::ifstream log(tmp_.path() + "/synced");
    std::string path;
    uintmax_t size = 0;
    while (log >> path >> size) synced[path] = size;
  }
  for (const auto& e : std::filesystem::directory_iterator(wal_)) {
    if (e.path().extension() != ".log") continue;
    const auto it = synced.find(e.path().string());
    std::filesystem::resize_file(e.path(),
                                 std::min(it == synced.end() ? 0 : it->second, e.file_size()));
  }
  test::Daemon d(queue_, wal_, {"--capacity", "4096"});
  ASSERT_TRUE(d.Start());
  // Every key still answers its job; nothing new is created.
  auto p = test::OpenProducer(queue_);
  ASSERT_NE(p, nullptr);
  for (const auto& [key, id] : ids) {
    EnqueueOptions o;
    o.idempotency_key = key;
    EnqueueResult r;
    ASSERT_OK(p->Enqueue("again", o, &r));
    EXPECT_TRUE(r.duplicate) << key;
    EXPECT_EQ(r.job_id, id) << key;
  }
  // The jobs come back with what they carried, highest priority first (among the typed ones and
  // among the others: typed jobs reach the rings only once the daemon has seen this any-type
  // worker), and the cancelled ones not.
  auto w = test::OpenWorker(queue_);
  ASSERT_NE(w, nullptr);
  std::map<std::string, int> last_priority = {{"even", kMaxPriority}, {"", kMaxPriority}};
  int got = 0;
  Job job;
  while (w->Take(&job, 500).ok()) {
    ++got;
    const std::string payload(job.payload());
    ASSERT_EQ(payload.rfind("keep-", 0), 0u) << payload;
    const int i = std::stoi(payload.substr(5));
    EXPECT_EQ(job.priority(), i % 10);
    EXPECT_LE(job.priority(), last_priority[job.type()]) << "taken out of priority order";
    last_priority[job.type()] = job.priority();
    EXPECT_EQ(job.type(), i % 2 == 0 ? "even" : "");
    EXPECT_EQ(job.header("n"), std::to_string(i));
    EXPECT_EQ(job.timeout_ms(), 1000u + i);
    ASSERT_OK(w->Complete(job));
  }
  EXPECT_EQ(got, 300);
}

TEST_F(StorageFaultTest, ACrashBetweenLogAndAnswerKeepsTheKey) {
  test::Daemon d(queue_, wal_);
  d.SetEnv(ShimEnv());
  ASSERT_TRUE(d.Start());
  ProducerOptions po;
  po.queue = queue_;
  po.commit_timeout_ms = 1000;
  std::unique_ptr<Producer> p;
  ASSERT_OK(Producer::Open(po, &p));
  Fault("sync_hang", true);  // the record reaches the disk, the answer never leaves
  EnqueueOptions o;
  o.idempotency_key = "charge-42";
  EnqueueResult first;
  const Status s = p->Enqueue("charge", o, &first);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();  // outcome unknown: the producer will retry
  d.Kill();
  Fault("sync_hang", false);
  p.reset();
  test::Daemon again(queue_, wal_);
  ASSERT_TRUE(again.Start());
  p = test::OpenProducer(queue_);
  ASSERT_NE(p, nullptr);
  EnqueueResult retry;
  ASSERT_OK(p->Enqueue("charge", o, &retry));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.job_id, first.job_id);
  EXPECT_EQ(Drain().size(), 1u) << "one job for one key";
}

// Issue 13: a result is as durable as its completion. In fsync mode a completion is on disk
// once an enqueue accepted after it (its fdatasync covers every record written before) — the
// WAL's COMPLETE record, and the outcome store once WAL segments are deleted. After a power
// loss each such job has exactly its result (or, doomed, its error) without running again; the
// completions that were not synced run again and give theirs; no job is lost, none reads
// another job's result.
TEST_F(StorageFaultTest, PowerLossKeepsEverySyncedOutcomeAndRunsTheOthersAgain) {
  // A long --interval-ms: completions reach the disk only with the next enqueue's sync (or
  // before WAL segments are deleted). Appending, as PowerLossKeepsEveryAcceptedJobInFsyncMode.
  const std::vector<std::string> args = {"--wal-segment-mb",   "1",    "--interval-ms",     "60000",
                                         "--capacity",         "4096", "--wal-prewrite-kb", "0",
                                         "--retry-backoff-ms", "0"};
  std::map<uint64_t, std::string> jobs;  // accepted: id -> payload
  std::set<uint64_t> synced;             // ended, then an enqueue was accepted
  std::vector<uint64_t> ended;           // ended since the last accepted enqueue
  {
    test::Daemon d(queue_, wal_, args);
    d.SetEnv(ShimEnv());
    ASSERT_TRUE(d.Start());
    auto p = test::OpenProducer(queue_);
    auto w = test::OpenWorker(queue_);
    auto jc = OpenJobClient();
    ASSERT_TRUE(p && w && jc);
    auto work = [&](int n) {
      for (int k = 0; k < n; ++k) {
        Job job;
        ASSERT_OK(w->Take(&job, 5000));
        if (!Handle(*w, job)) continue;
        JobStatus st;
        ASSERT_OK(jc->Wait(job.id(), 5000, &st));  // applied: its record is written
        ended.push_back(job.id());
      }
    };
    for (int i = 0; i < 1500; ++i) {
      EnqueueResult r;
      ASSERT_OK(p->Enqueue(PayloadOf(i), OptionsOf(i), &r));
      jobs[r.job_id] = PayloadOf(i);
      synced.insert(ended.begin(), ended.end());
      ended.clear();
      if (i % 3 != 2) {
        ASSERT_NO_FATAL_FAILURE(work(1));  // two in three: a backlog stays queued
      }
    }
    ASSERT_NO_FATAL_FAILURE(work(60));  // written, not synced (unless a collection did)
    d.Kill();
  }
  const uintmax_t cut = CutToSynced();
  EXPECT_GT(cut, 0u) << "the test must actually throw unsynced data away";
  test::Daemon d(queue_, wal_, {"--capacity", "4096", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(d.Start());
  auto jc = OpenJobClient();
  ASSERT_NE(jc, nullptr);
  // Before any worker runs: every synced outcome is there, byte-exact.
  std::string why;
  EXPECT_EQ(CheckOutcomes(*jc, synced, jobs, &why), 0u) << why;
  // The others run (again, or for the first time); no synced one does.
  const std::set<uint64_t> ran = RunAll(jobs, synced);
  size_t ran_again = 0;
  for (uint64_t id : ended) ran_again += ran.count(id);
  why.clear();
  EXPECT_EQ(CheckOutcomes(*jc, Ids(jobs), jobs, &why), 0u) << why;
  std::printf(
      "accepted=%zu synced_outcomes=%zu unsynced_outcomes=%zu ran_again=%zu "
      "bytes_cut=%ju\n",
      jobs.size(), synced.size(), ended.size(), ran_again, cut);
}

// A crash cuts the outcome store's last write short: the next daemon cuts the torn tail off
// and restores from the WAL each outcome it lost, byte-exact, and no job runs again.
TEST_F(StorageFaultTest, ATornOutcomeFileIsCutAndTheWalRestoresEveryOutcome) {
  // One WAL segment holds everything: none is deleted, so nothing syncs the outcome store after
  // the start, and a crash may tear any of its records.
  const std::vector<std::string> args = {"--wal-segment-mb",   "64", "--capacity", "4096",
                                         "--retry-backoff-ms", "0"};
  std::map<uint64_t, std::string> jobs;
  {
    test::Daemon d(queue_, wal_, args);
    ASSERT_TRUE(d.Start());
    auto p = test::OpenProducer(queue_);
    auto w = test::OpenWorker(queue_);
    auto jc = OpenJobClient();
    ASSERT_TRUE(p && w && jc);
    for (int i = 0; i < 400; ++i) {
      EnqueueResult r;
      ASSERT_OK(p->Enqueue(PayloadOf(i), OptionsOf(i), &r));
      jobs[r.job_id] = PayloadOf(i);
    }
    for (size_t ended = 0; ended < jobs.size();) {
      Job job;
      ASSERT_OK(w->Take(&job, 5000));
      if (!Handle(*w, job)) continue;
      JobStatus st;
      ASSERT_OK(jc->Wait(job.id(), 5000, &st));  // in the outcome store (written, not synced)
      ++ended;
    }
    d.Kill();
  }
  // Tear the newest outcome file inside the record that crosses its middle.
  std::filesystem::path newest;
  for (const auto& e : std::filesystem::directory_iterator(wal_ + "/outcomes")) {
    if (e.path().extension() == ".out" && e.path() > newest) newest = e.path();
  }
  ASSERT_FALSE(newest.empty());
  std::string bytes;
  {
    std::ifstream in(newest, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t torn_at = 0, cut_at = 0, lost_records = 0;
  for (uint64_t off = outcome::kOutcomeFileHeaderSize; off < bytes.size();) {
    outcome::OutcomeRecord rec;
    uint64_t size = 0;
    ASSERT_OK(outcome::DecodeOutcome(std::string_view(bytes).substr(off), &rec, &size));
    if (cut_at == 0 && off + size > bytes.size() / 2) {
      torn_at = off;
      cut_at = off + size / 2;
    }
    lost_records += cut_at != 0;
    off += size;
  }
  ASSERT_NE(cut_at, 0u);
  std::filesystem::resize_file(newest, cut_at);
  test::Daemon d(queue_, wal_, args);
  ASSERT_TRUE(d.Start());
  EXPECT_NE(d.Log().find("outcome store: cut a torn tail of " + std::to_string(cut_at - torn_at) +
                         " byte(s)"),
            std::string::npos)
      << d.Log();
  EXPECT_NE(d.Log().find("(" + std::to_string(lost_records) + " restored from the WAL"),
            std::string::npos)
      << lost_records << " records were cut off: " << d.Log();
  auto jc = OpenJobClient();
  ASSERT_NE(jc, nullptr);
  std::string why;
  EXPECT_EQ(CheckOutcomes(*jc, Ids(jobs), jobs, &why), 0u) << why;
  EXPECT_EQ(RunAll(jobs, Ids(jobs)).size(), 0u);
}

// WAL segments are deleted only once the outcome store is synced (after them, the store holds
// the only copy of their jobs' outcomes). The daemon is killed while it deletes them, the power
// fails: every job that had ended still has exactly its outcome, and none runs again.
TEST_F(StorageFaultTest, AKillWhileOldSegmentsAreDeletedLosesNoOutcome) {
  const std::vector<std::string> args = {"--wal-segment-mb",   "1",    "--interval-ms",     "60000",
                                         "--capacity",         "4096", "--wal-prewrite-kb", "0",
                                         "--retry-backoff-ms", "0"};
  std::map<uint64_t, std::string> jobs;
  std::set<uint64_t> ended;
  {
    test::Daemon d(queue_, wal_, args);
    d.SetEnv(ShimEnv());
    ASSERT_TRUE(d.Start());
    Fault("unlink_hang", true);  // the first segment deleted stops the daemon's engine there
    ProducerOptions po;
    po.queue = queue_;
    po.commit_timeout_ms = 1000;  // an enqueue the hung daemon never answers
    std::unique_ptr<Producer> p;
    ASSERT_OK(Producer::Open(po, &p));
    auto w = test::OpenWorker(queue_);
    auto jc = OpenJobClient();
    ASSERT_TRUE(w && jc);
    // Jobs that complete at the first attempt: each text the worker sends waits for the
    // previous one's commit, which the hung daemon never gives.
    for (int i = 0; i < 20000 && !std::filesystem::exists(ctl_ + "/unlinked"); ++i) {
      if (DoomedJob(i) || FailsFirstJob(i)) continue;
      EnqueueResult r;
      if (!p->Enqueue(PayloadOf(i), &r.job_id).ok()) break;  // outcome unknown: not counted
      jobs[r.job_id] = PayloadOf(i);
      Job job;
      ASSERT_OK(w->Take(&job, 5000));
      ASSERT_TRUE(Handle(*w, job));
      JobStatus st;
      if (!jc->Wait(job.id(), 2000, &st).ok()) break;  // the engine hangs in the deletion
      ended.insert(job.id());
    }
    ASSERT_TRUE(std::filesystem::exists(ctl_ + "/unlinked")) << "no WAL segment was deleted";
    d.Kill();
    Fault("unlink_hang", false);
  }
  EXPECT_FALSE(std::filesystem::exists(wal_ + "/" + wal::SegmentFileName(1)));
  const uintmax_t cut = CutToSynced();
  test::Daemon d(queue_, wal_, {"--capacity", "4096", "--retry-backoff-ms", "0"});
  ASSERT_TRUE(d.Start());
  auto jc = OpenJobClient();
  ASSERT_NE(jc, nullptr);
  std::string why;
  EXPECT_EQ(CheckOutcomes(*jc, ended, jobs, &why), 0u) << why;
  RunAll(jobs, ended);
  why.clear();
  EXPECT_EQ(CheckOutcomes(*jc, Ids(jobs), jobs, &why), 0u) << why;
  std::printf("accepted=%zu ended_before_the_kill=%zu bytes_cut=%ju\n", jobs.size(), ended.size(),
              cut);
}

}  // namespace
}  // namespace taskring
