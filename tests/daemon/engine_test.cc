// The engine driven one step at a time in this process: the test plays producers and workers by
// doing what the client library does to the segment (claim a slot, push a lane record), then
// checks what the engine made of it: the WAL, the rings, the status table, the counters.
#include "daemon/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "admission/admission.h"
#include "io/fault_injection_env.h"
#include "outcome/outcome_reader.h"
#include "small_segment.h"
#include "util/clock.h"
#include "wal/wal_reader.h"
#include "wal/wal_segment.h"

namespace taskring::daemon {
namespace {

using segment::kNoClient;
using segment::LaneOp;
using segment::PackSlotWord;
using segment::SlotState;

constexpr uint32_t kCapacity = 16;
constexpr uint32_t kProducer = 0;
constexpr uint32_t kWorker = 1;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(seg_.status().ok()) << seg_.status().ToString();
    wal_dir_ = tmp_.path();
    ASSERT_OK(deadletter::DeadLetterStore::Open(wal_dir_, 0600, /*create=*/true, &dead_, &disk_));
    config_.wal_dir = wal_dir_;
    config_.dead_letters = dead_.get();
    config_.retry_backoff_ms = 0;  // a failed job is due again at once
    config_.wal_options.env = &disk_;
    // Each Step() writes, syncs and applies its group, so a test sees a step's effects at once.
    // The pipelined commit has tests of its own below.
    config_.pipeline_min_group = 0;
  }
  void StartEngine(std::vector<RecoveredJob> jobs = {}, uint64_t max_id = 0) {
    std::unique_ptr<wal::WalWriter> writer;
    ASSERT_OK(wal::WalWriter::Open(wal_dir_, config_.wal_options, 1, &writer));
    engine_ = std::make_unique<Engine>(*seg_, std::move(writer), config_);
    ASSERT_OK(engine_->Load(jobs, max_id));
    for (uint32_t c : {kProducer, kWorker}) {
      seg_->client(c)->owner.store(
          segment::PackClientOwner(::getpid(), segment::ClientState::kActive));
    }
    seg_->header()->clients_epoch.fetch_add(1);
  }
  // What Producer::Enqueue does: claim a free slot, fill it, submit it through the lane.
  uint64_t Enqueue(const std::string& payload, uint32_t max_attempts = 3) {
    uint32_t slot = 0, gen = 0;
    EXPECT_TRUE(admission::TryAcquireSlot(*seg_, kProducer, &slot, &gen));
    segment::SlotHeader* h = seg_->slot(slot);
    const uint64_t id = seg_->header()->next_job_id.fetch_add(1);
    h->job_id = id;
    // As a producer does: the status entry is the job's from its first state.
    seg_->status_entry(id)->slot.store(slot);
    seg_->status_entry(id)->packed.store(
        segment::PackStatus(id, segment::JobStateCode::kPending, 0));
    h->enqueued_unix_ns = 1;
    h->payload_len = static_cast<uint32_t>(payload.size());
    h->attempt.store(0);
    h->max_attempts = max_attempts;
    h->not_before_unix_ns = 0;
    h->priority = taskring::kDefaultPriority;
    h->meta_len = 0;
    h->timeout_ms = 0;
    std::memcpy(seg_->payload(slot), payload.data(), payload.size());
    h->word.store(PackSlotWord(gen, kProducer, SlotState::kSubmitted));
    Push(kProducer, LaneOp::kEnqueue, slot, gen, 0);
    return id;
  }
  struct Taken {
    uint32_t slot = 0, gen = 0, attempt = 0;
    uint64_t id = 0;
  };
  // What Worker::Take does: pop the dispatch ring, lease the slot, report the start.
  bool Take(Taken* t) {
    uint64_t ref = 0;
    bool popped = false;
    for (uint32_t p = segment::kPriorityLevels; p-- > 0 && !popped;) {
      popped = seg_->dispatch_ring(p).TryPop(&ref);
    }
    if (!popped) return false;
    t->slot = segment::RefSlot(ref);
    t->gen = segment::RefGen(ref);
    segment::SlotHeader* h = seg_->slot(t->slot);
    uint64_t expected = PackSlotWord(t->gen, kNoClient, SlotState::kQueued);
    EXPECT_TRUE(h->word.compare_exchange_strong(
        expected, PackSlotWord(t->gen, kWorker, SlotState::kRunning)));
    t->attempt = h->attempt.load();
    t->id = h->job_id;
    Push(kWorker, LaneOp::kStart, t->slot, t->gen, t->attempt);
    return true;
  }
  // What Worker::Complete / Fail do: fence the lease, report the outcome.
  void Finish(const Taken& t, bool success) {
    seg_->slot(t.slot)->word.store(
        PackSlotWord(t.gen, kWorker, success ? SlotState::kCompleting : SlotState::kFailing));
    Push(kWorker, success ? LaneOp::kComplete : LaneOp::kFail, t.slot, t.gen, t.attempt);
  }
  // What Worker::Complete(job, result) does: the bytes into the worker's result buffer, then
  // the record naming them.
  void FinishWithResult(const Taken& t, const std::string& result) {
    std::memcpy(seg_->result_buffer(kWorker), result.data(), result.size());
    seg_->client(kWorker)->result_len.store(static_cast<uint32_t>(result.size()));
    seg_->slot(t.slot)->word.store(PackSlotWord(t.gen, kWorker, SlotState::kCompleting));
    Push(kWorker, LaneOp::kCompleteResult, t.slot, t.gen, t.attempt);
  }
  void Push(uint32_t client, LaneOp op, uint32_t slot, uint32_t gen, uint32_t attempt) {
    ASSERT_NE(seg_->lane(client).TryPush({static_cast<uint32_t>(op), slot, gen, attempt}),
              UINT64_MAX);
  }
  JobState StateOf(uint64_t id) {
    JobState state = JobState::kUnknown;
    uint32_t attempt = 0;
    EXPECT_TRUE(segment::UnpackStatus(seg_->status_entry(id)->packed.load(), id, &state, &attempt));
    return state;
  }
  // Every record in the WAL, by type, in order.
  std::vector<wal::WalRecord> WalRecords() {
    std::vector<wal::WalRecord> out;
    wal::ReplayOptions o;
    o.truncate_torn_tail = false;
    o.env = &disk_;
    wal::ReplayReport report;
    EXPECT_OK(wal::ReplayWal(
        wal_dir_, o,
        [&](const wal::WalRecord& r) {
          out.push_back(r);
          return Status::OK();
        },
        &report));
    return out;
  }

  outcome::OutcomeIndex OutcomeIndex() {
    return outcome::OutcomeIndex(static_cast<outcome::OutcomeIndexEntry*>(seg_->outcome_index()),
                                 seg_->params().outcome_index_entries);
  }
  // DIR/outcomes on the same faulty disk as the WAL, published in the segment's index.
  std::unique_ptr<OutcomeStore> OpenOutcomeStore() {
    std::unique_ptr<OutcomeStore> store;
    EXPECT_OK(OutcomeStore::Open(&disk_, wal_dir_, OutcomeStoreOptions{}, OutcomeIndex(),
                                 util::NowUnixNs(), &store));
    return store;
  }
  // Runs `jobs` jobs one after the other, each completed with a result of its own (0.5-1.5 KiB).
  std::map<uint64_t, std::string> CompleteJobsWithResults(int jobs) {
    std::map<uint64_t, std::string> results;
    for (int i = 0; i < jobs; ++i) {
      const uint64_t id = Enqueue("job" + std::to_string(i));
      engine_->Step();
      Taken t;
      EXPECT_TRUE(Take(&t));
      engine_->Step();
      const std::string result =
          std::to_string(id) + std::string(500 + i * 37 % 1000, static_cast<char>('a' + i % 26));
      FinishWithResult(t, result);
      engine_->Step();
      EXPECT_EQ(StateOf(id), JobState::kCompleted);
      results[id] = result;
    }
    return results;
  }
  uint64_t OldestSegment() {
    std::vector<wal::SegmentFile> files;
    EXPECT_OK(wal::ListSegments(wal_dir_, &files, &disk_));
    return files.empty() ? 0 : files.front().number;
  }
  // A restart after a power loss, as taskringd starts: replays the WAL, opens the outcome store
  // and adds what it lacks from the WAL. Each job of `results` must have exactly its result, or
  // be live again (its COMPLETE was not synced: it runs again). Returns how many are live.
  size_t RestartAndCheckResults(const std::map<uint64_t, std::string>& results) {
    RecoveryResult rec;
    EXPECT_OK(RecoverFromWal(wal_dir_, /*salvage=*/false, &rec));
    std::unique_ptr<OutcomeStore> store = OpenOutcomeStore();
    if (!store) return 0;
    RestoreOutcomes(store.get(), &rec.outcomes);
    EXPECT_OK(store->Flush());
    std::set<uint64_t> live;
    for (const RecoveredJob& j : rec.live) live.insert(j.id);
    const outcome::OutcomeReader reader(wal_dir_ + "/outcomes", OutcomeIndex());
    for (const auto& [id, want] : results) {
      if (live.count(id) != 0) continue;
      outcome::OutcomeRecord got;
      const Status s = reader.Find(id, /*with_result=*/true, &got);
      EXPECT_OK(s) << "job " << id << " neither has its outcome nor runs again";
      if (!s.ok()) continue;
      EXPECT_EQ(got.state, JobState::kCompleted) << id;
      EXPECT_EQ(got.result, want) << id;
    }
    return live.size();
  }

  // The real file system, through a layer that fails chosen calls or loses unsynced data.
  io::FaultInjectionEnv disk_{io::Env::Default()};
  test::TempDir tmp_;
  SmallSegment seg_{kCapacity, "dseg", /*max_result=*/4096, /*outcome_index_entries=*/1024};
  std::string wal_dir_;
  std::unique_ptr<deadletter::DeadLetterStore> dead_;
  EngineConfig config_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, LoadPlacesRecoveredJobsAndFillsTheFreeStack) {
  const uint64_t far_future = util::Now::Read().unix_ns + 3600'000'000'000ULL;
  std::vector<RecoveredJob> jobs(3);
  jobs[0] = {.id = 4, .attempts_made = 0, .max_attempts = 5, .payload = "a"};
  jobs[1] = {.id = 7, .attempts_made = 1, .was_running = true, .payload = "b"};
  jobs[2] = {.id = 9, .not_before_unix_ns = far_future, .payload = "c"};
  ASSERT_NO_FATAL_FAILURE(StartEngine(jobs, 12));
  EXPECT_EQ(engine_->outstanding(), 3u);
  // Past the WAL's ids, and past every id handed out before on this host (the clock, in us).
  EXPECT_GE(seg_->header()->next_job_id.load(), util::Now::Read().unix_ns / 1000 - 60'000'000);
  EXPECT_EQ(StateOf(4), JobState::kQueued);
  EXPECT_EQ(StateOf(9), JobState::kDelayed);
  EXPECT_EQ(seg_->Read(segment::Counter::kRedelivered), 1u);
  EXPECT_EQ(seg_->free_stack().SizeApprox(), kCapacity - 3);
  EXPECT_EQ(seg_->slot(1)->max_attempts, 3u) << "0 in the WAL: the queue's default";
  engine_->Step();
  Taken a, b, none;
  ASSERT_TRUE(Take(&a));
  ASSERT_TRUE(Take(&b));
  EXPECT_FALSE(Take(&none)) << "job 9 is delayed";
  EXPECT_EQ(a.id, 4u);
  EXPECT_EQ(a.attempt, 1u);
  EXPECT_EQ(b.id, 7u);
  EXPECT_EQ(b.attempt, 2u) << "its interrupted run counted";
}

TEST_F(EngineTest, LoadRefusesJobsThatDoNotFitTheSegment) {
  std::unique_ptr<wal::WalWriter> writer;
  ASSERT_OK(wal::WalWriter::Open(wal_dir_, config_.wal_options, 1, &writer));
  Engine engine(*seg_, std::move(writer), config_);
  std::vector<RecoveredJob> too_many(kCapacity + 1);
  EXPECT_TRUE(engine.Load(too_many, 0).IsInvalidArgument());
  std::vector<RecoveredJob> too_large(1);
  too_large[0].payload.assign(seg_->params().max_payload + 1, 'x');
  const Status s = engine.Load(too_large, 0);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.ToString().find("--max-payload"), std::string::npos) << s.ToString();
}

TEST_F(EngineTest, AnEnqueueIsLoggedAndSyncedBeforeItsProducerSeesItCommitted) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t id = Enqueue("hello");
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 0u);
  EXPECT_TRUE(engine_->Step());
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 1u);
  EXPECT_EQ(seg_->Read(segment::Counter::kAccepted), 1u);
  EXPECT_EQ(seg_->Read(segment::Counter::kWalFsyncs), 1u) << "durability fsync";
  EXPECT_EQ(StateOf(id), JobState::kQueued);
  const auto records = WalRecords();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, wal::RecordType::kEnqueue);
  EXPECT_EQ(records[0].job_id, id);
  EXPECT_EQ(records[0].payload, "hello");
  EXPECT_EQ(records[0].max_attempts, 3u);
  EXPECT_EQ(engine_->outstanding(), 1u);
}

TEST_F(EngineTest, ACompletedJobIsLoggedAndItsSlotFreedUnderANewGeneration) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t id = Enqueue("job");
  engine_->Step();
  Taken t;
  ASSERT_TRUE(Take(&t));
  engine_->Step();
  EXPECT_EQ(StateOf(id), JobState::kQueued) << "running is the worker's to write";
  Finish(t, /*success=*/true);
  engine_->Step();
  EXPECT_EQ(StateOf(id), JobState::kCompleted);
  EXPECT_EQ(engine_->outstanding(), 0u);
  EXPECT_EQ(seg_->Read(segment::Counter::kCompleted), 1u);
  EXPECT_EQ(seg_->slot(t.slot)->word.load(), PackSlotWord(t.gen + 1, kNoClient, SlotState::kFree));
  std::vector<wal::RecordType> types;
  for (const auto& r : WalRecords()) types.push_back(r.type);
  EXPECT_EQ(types, (std::vector<wal::RecordType>{wal::RecordType::kEnqueue, wal::RecordType::kStart,
                                                 wal::RecordType::kComplete}));
}

TEST_F(EngineTest, AJobThatFailsEveryAttemptBecomesADeadLetter) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t id = Enqueue("doomed", /*max_attempts=*/2);
  engine_->Step();
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    Taken t;
    ASSERT_TRUE(Take(&t)) << "attempt " << attempt;
    EXPECT_EQ(t.attempt, attempt);
    Finish(t, /*success=*/false);
    engine_->Step();
    engine_->Step();  // the retry is due at once (no backoff): released and dispatched
  }
  EXPECT_EQ(StateOf(id), JobState::kDead);
  EXPECT_EQ(seg_->Read(segment::Counter::kDead), 1u);
  EXPECT_EQ(seg_->Read(segment::Counter::kRetried), 1u);
  deadletter::DeadLetter letter;
  ASSERT_OK(dead_->Read(id, &letter));
  EXPECT_EQ(letter.payload, "doomed");
  EXPECT_EQ(letter.attempts, 2u);
  EXPECT_EQ(letter.reason, deadletter::DeadReason::kFailed);
  EXPECT_EQ(WalRecords().back().type, wal::RecordType::kDead);
}

TEST_F(EngineTest, AStaleOutcomeIsCountedAndIgnored) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t id = Enqueue("x");
  engine_->Step();
  Taken t;
  ASSERT_TRUE(Take(&t));
  engine_->Step();
  Taken wrong = t;
  wrong.attempt = t.attempt + 1;  // not the attempt the slot is on
  seg_->slot(t.slot)->word.store(PackSlotWord(t.gen, kWorker, SlotState::kCompleting));
  Push(kWorker, LaneOp::kComplete, wrong.slot, wrong.gen, wrong.attempt);
  engine_->Step();
  EXPECT_EQ(seg_->Read(segment::Counter::kStaleAcks), 1u);
  EXPECT_NE(StateOf(id), JobState::kCompleted);
  EXPECT_EQ(engine_->outstanding(), 1u);
}

// Worker::Release: the job goes back at once with its attempt given back, logged as a retry of
// the attempt before, so even a job with one attempt is never dead-lettered by releases. A
// release naming another attempt is stale and changes nothing.
TEST_F(EngineTest, AReleasedJobIsRequeuedWithItsAttemptGivenBack) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t id = Enqueue("undeliverable for now", /*max_attempts=*/1);
  engine_->Step();
  Taken t;
  ASSERT_TRUE(Take(&t));
  engine_->Step();
  seg_->slot(t.slot)->word.store(PackSlotWord(t.gen, kWorker, SlotState::kFailing));
  Push(kWorker, LaneOp::kRelease, t.slot, t.gen, t.attempt + 1);
  engine_->Step();
  EXPECT_EQ(seg_->Read(segment::Counter::kStaleAcks), 1u);
  Taken none;
  EXPECT_FALSE(Take(&none)) << "a stale release requeued the job";
  EXPECT_NE(WalRecords().back().type, wal::RecordType::kRetry);
  for (int round = 0; round < 3; ++round) {
    seg_->slot(t.slot)->word.store(PackSlotWord(t.gen, kWorker, SlotState::kFailing));
    Push(kWorker, LaneOp::kRelease, t.slot, t.gen, t.attempt);
    engine_->Step();
    const wal::WalRecord last = WalRecords().back();
    EXPECT_EQ(last.type, wal::RecordType::kRetry);
    EXPECT_EQ(last.attempt, 0u);
    EXPECT_EQ(last.not_before_unix_ns, 0u);
    ASSERT_TRUE(Take(&t)) << "round " << round;
    EXPECT_EQ(t.attempt, 1u);
    engine_->Step();
  }
  Finish(t, /*success=*/true);
  engine_->Step();
  EXPECT_EQ(StateOf(id), JobState::kCompleted);
  EXPECT_EQ(seg_->Read(segment::Counter::kDead), 0u);
  EXPECT_EQ(seg_->Read(segment::Counter::kRetried), 0u) << "a release is no failed attempt";
}

TEST_F(EngineTest, ARunWithoutHeartbeatIsReclaimedWhenItsLeaseExpires) {
  config_.lease_ms = 1;
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t id = Enqueue("slow");
  engine_->Step();
  Taken t;
  ASSERT_TRUE(Take(&t));
  engine_->Step();  // the lease starts
  // Leases are scanned every 50 ms; the lease is 1 ms.
  for (int i = 0; i < 100 && seg_->Read(segment::Counter::kLeasesExpired) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    engine_->Step();
  }
  EXPECT_EQ(seg_->Read(segment::Counter::kLeasesExpired), 1u);
  engine_->Step();
  Taken again;
  ASSERT_TRUE(Take(&again)) << "handed out again";
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(again.attempt, 2u);
  // The first worker's late outcome no longer counts.
  Push(kWorker, LaneOp::kComplete, t.slot, t.gen, t.attempt);
  engine_->Step();
  EXPECT_EQ(seg_->Read(segment::Counter::kStaleAcks), 1u);
}

segment::DaemonState DaemonState(const segment::Segment& seg) {
  return static_cast<segment::DaemonState>(seg.header()->daemon_state.load());
}

TEST_F(EngineTest, AFailedWriteRefusesNewJobsUntilAWriteGetsThrough) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  seg_->header()->daemon_state.store(static_cast<uint32_t>(segment::DaemonState::kRunning));
  using Fault = io::FaultInjectionEnv::Fault;
  disk_.Inject(Fault(io::FaultInjectionEnv::Op::kWrite).Times(2).Error(ENOSPC));
  const uint64_t id = Enqueue("kept");
  EXPECT_FALSE(engine_->Step());
  EXPECT_TRUE(engine_->refusing());
  EXPECT_EQ(DaemonState(*seg_), segment::DaemonState::kRefusing);
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 0u) << "not accepted";
  EXPECT_FALSE(engine_->Step()) << "still failing";
  EXPECT_TRUE(engine_->Step()) << "the disk has room again";
  EXPECT_FALSE(engine_->refusing());
  EXPECT_EQ(DaemonState(*seg_), segment::DaemonState::kRunning);
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 1u);
  EXPECT_EQ(StateOf(id), JobState::kQueued);
  const auto records = WalRecords();
  ASSERT_EQ(records.size(), 1u) << "written once, nothing lost, nothing doubled";
  EXPECT_EQ(records[0].payload, "kept");
}

// After a failed fdatasync the kernel may have dropped the segment's dirty pages: the engine
// continues in a new segment holding every live job, synced, and deletes the old ones. A power
// loss right after must still find every accepted job.
TEST_F(EngineTest, AFailedSyncCheckpointsEveryLiveJobIntoANewSegment) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t first = Enqueue("first");
  engine_->Step();
  std::vector<wal::SegmentFile> before;
  ASSERT_OK(wal::ListSegments(wal_dir_, &before, &disk_));
  ASSERT_EQ(before.size(), 1u);
  disk_.Inject(io::FaultInjectionEnv::Fault(io::FaultInjectionEnv::Op::kSync).Times(1));
  const uint64_t second = Enqueue("second");
  EXPECT_TRUE(engine_->Step());
  EXPECT_FALSE(engine_->refusing());
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 2u) << "accepted once the checkpoint synced";
  std::vector<wal::SegmentFile> after;
  ASSERT_OK(wal::ListSegments(wal_dir_, &after, &disk_));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0].number, before[0].number) << "the suspect segment is gone";
  ASSERT_OK(disk_.DropUnsyncedData());
  std::map<uint64_t, std::string> jobs;
  for (const auto& r : WalRecords()) jobs[r.job_id] = r.payload;
  EXPECT_EQ(jobs, (std::map<uint64_t, std::string>{{first, "first"}, {second, "second"}}));
}

// Pipelined commit: a group big enough is synced on the syncer thread; its producers are told
// only once that sync is back, and a power loss right after loses none of it.
TEST_F(EngineTest, APipelinedGroupIsAcceptedOnlyOnceItsSyncIsBack) {
  config_.pipeline_min_group = 4;
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Enqueue("job" + std::to_string(i)));
  EXPECT_TRUE(engine_->Step());
  // The sync went to the syncer thread; its result is collected by a later step.
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 0u) << "told before the sync was back";
  EXPECT_EQ(seg_->Read(segment::Counter::kWalFsyncs), 0u);
  for (int i = 0; i < 500 && seg_->client(kProducer)->committed.load() < 6; ++i) {
    EXPECT_EQ(seg_->Read(segment::Counter::kAccepted), 0u) << "the group is accepted as one";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    engine_->Step();
  }
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 6u);
  EXPECT_EQ(seg_->Read(segment::Counter::kAccepted), 6u);
  EXPECT_EQ(seg_->Read(segment::Counter::kWalFsyncs), 1u) << "one sync for the whole group";
  for (uint64_t id : ids) EXPECT_EQ(StateOf(id), JobState::kQueued) << id;
  ASSERT_OK(disk_.DropUnsyncedData());
  EXPECT_EQ(WalRecords().size(), 6u) << "all six were durable before they were accepted";
}

// A failed fdatasync on the syncer thread: nobody is told, and the group is checkpointed into a
// fresh segment like any failed sync.
TEST_F(EngineTest, AFailedPipelinedSyncIsCheckpointedAndLosesNothing) {
  config_.pipeline_min_group = 4;
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  disk_.Inject(io::FaultInjectionEnv::Fault(io::FaultInjectionEnv::Op::kSync).Times(1));
  std::set<uint64_t> ids;
  for (int i = 0; i < 5; ++i) ids.insert(Enqueue("job" + std::to_string(i)));
  for (int i = 0; i < 500 && seg_->client(kProducer)->committed.load() < 5; ++i) {
    engine_->Step();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(seg_->client(kProducer)->committed.load(), 5u);
  EXPECT_EQ(disk_.injected_failures(), 1);
  EXPECT_FALSE(engine_->refusing());
  ASSERT_OK(disk_.DropUnsyncedData());
  std::set<uint64_t> logged;
  for (const auto& r : WalRecords()) logged.insert(r.job_id);
  EXPECT_EQ(logged, ids);
}

// A DEAD record lets a job's ENQUEUE go, so it must never be durable before the job's dead
// letter is: not even when the letter's directory sync fails while the WAL is already being
// checkpointed after a failed fdatasync.
TEST_F(EngineTest, ADeadRecordIsNeverDurableBeforeItsLetter) {
  using Fault = io::FaultInjectionEnv::Fault;
  using Op = io::FaultInjectionEnv::Op;
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t doomed = Enqueue("doomed", /*max_attempts=*/1);
  engine_->Step();
  Taken t;
  ASSERT_TRUE(Take(&t));
  engine_->Step();
  // The WAL's fdatasync fails, and so does the checkpoint's: the writer stays suspect.
  disk_.Inject(Fault(Op::kSync).PathContains("/wal-").Times(2));
  Enqueue("other");
  EXPECT_FALSE(engine_->Step());
  // Now the job fails for good, and the dead-letter directory cannot be synced twice over.
  Finish(t, /*success=*/false);
  disk_.Inject(Fault(Op::kSyncDir).PathContains("/dead").Times(2));
  for (int i = 0; i < 4; ++i) engine_->Step();
  EXPECT_EQ(StateOf(doomed), JobState::kDead);
  ASSERT_OK(disk_.DropUnsyncedData());
  bool dead_logged = false;
  for (const auto& r : WalRecords()) dead_logged |= r.type == wal::RecordType::kDead;
  ASSERT_TRUE(dead_logged);
  deadletter::DeadLetter letter;
  EXPECT_OK(dead_->Read(doomed, &letter)) << "the job is in neither place";
}

// A COMPLETE record is its result's only durable copy until the outcome store is synced: while
// the store cannot sync, no WAL segment is deleted, so a power loss then loses no result (the
// restart restores the store's unsynced records from the WAL).
TEST_F(EngineTest, WalSegmentsStayWhileTheOutcomeStoreCannotSync) {
  config_.wal_options.segment_bytes = 16 << 10;  // rotates every few jobs
  config_.wal_options.prewrite_bytes = 0;
  std::unique_ptr<OutcomeStore> store = OpenOutcomeStore();
  ASSERT_NE(store, nullptr);
  config_.outcomes = store.get();
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t first = OldestSegment();
  disk_.Inject(io::FaultInjectionEnv::Fault(io::FaultInjectionEnv::Op::kSync)
                   .PathContains("/outcomes/")
                   .Times(1 << 30));
  const std::map<uint64_t, std::string> results = CompleteJobsWithResults(80);
  EXPECT_GT(disk_.injected_failures(), 0) << "the store tried to sync";
  EXPECT_EQ(OldestSegment(), first) << "a segment went while the store was not synced";
  std::vector<wal::SegmentFile> files;
  ASSERT_OK(wal::ListSegments(wal_dir_, &files, &disk_));
  EXPECT_GT(files.size(), 3u) << "the WAL rotated";
  engine_.reset();
  store.reset();
  disk_.ClearFaults();
  ASSERT_OK(disk_.DropUnsyncedData());
  EXPECT_LE(RestartAndCheckResults(results), 1u) << "only the last COMPLETE may be unsynced";
}

// Once the store syncs, the old segments go, and a power loss after that finds the results of
// their jobs in the store (the WAL no longer has them).
TEST_F(EngineTest, ResultsOfJobsInDeletedSegmentsSurviveAPowerLoss) {
  config_.wal_options.segment_bytes = 16 << 10;
  config_.wal_options.prewrite_bytes = 0;
  std::unique_ptr<OutcomeStore> store = OpenOutcomeStore();
  ASSERT_NE(store, nullptr);
  config_.outcomes = store.get();
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  const uint64_t first = OldestSegment();
  const std::map<uint64_t, std::string> results = CompleteJobsWithResults(80);
  EXPECT_GT(OldestSegment(), first + 2) << "old segments were deleted";
  engine_.reset();
  store.reset();
  ASSERT_OK(disk_.DropUnsyncedData());
  EXPECT_LE(RestartAndCheckResults(results), 1u);
}

}  // namespace
}  // namespace taskring::daemon
