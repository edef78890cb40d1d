// Disk full, EIO from fdatasync, and power loss, injected into a real taskringd with an
// LD_PRELOAD shim (fault_shim.cc): nothing accepted may be lost, producers get a clear error
// (never BUSY) while the disk refuses, and the queue resumes when it recovers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/queue_control.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

using namespace std::chrono_literals;

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

}  // namespace
}  // namespace taskring
