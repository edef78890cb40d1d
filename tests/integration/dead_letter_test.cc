// Dead letters end to end (`taskring dead ...` against a real daemon), and attempts counted
// across a daemon crash.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "deadletter/dead_letter_store.h"
#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

using test::CommandResult;
using test::Daemon;
using test::RunCommand;

std::string Cli() { return test::BinDir() + "/taskring"; }

class DeadLetterTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("dead");
  test::TempDir tmp_;
  std::string wal_ = tmp_.path() + "/wal";

  CommandResult Dead(std::vector<std::string> args) {
    args.insert(args.begin(), {Cli(), "dead"});
    return RunCommand(args);
  }

  // Enqueues each payload and fails it until it is dead (--max-attempts 1 daemons).
  std::vector<uint64_t> EnqueueAndKill(const std::vector<std::string>& payloads) {
    std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
    std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
    std::vector<uint64_t> ids;
    if (prod == nullptr || worker == nullptr) return ids;
    for (const std::string& p : payloads) {
      uint64_t id = 0;
      EXPECT_OK(prod->Enqueue(p, &id));
      Job job;
      EXPECT_OK(worker->Take(&job, 5000));
      EXPECT_EQ(job.id(), id);
      EXPECT_OK(worker->Fail(job));
      ids.push_back(id);
    }
    for (uint64_t id : ids) WaitDead(*prod, id);
    return ids;
  }

  static void WaitDead(const Producer& prod, uint64_t id) {
    JobStatus st;
    for (int i = 0; i < 500; ++i) {
      if (prod.GetStatus(id, &st).ok() && st.state == JobState::kDead) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " never became dead";
  }
};

TEST_F(DeadLetterTest, DeadJobKeepsItsBytesAndCanBeRequeuedOnce) {
  Daemon d(queue_, wal_, {"--max-attempts", "1"});
  ASSERT_TRUE(d.Start());
  const std::string binary("line\nwith\0nul and \xff", 19);
  const std::vector<uint64_t> ids = EnqueueAndKill({"first", binary});
  ASSERT_EQ(ids.size(), 2u);

  CommandResult r = Dead({"list", "--queue", queue_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("first"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line\\x0awith\\x00nul"), std::string::npos) << "escaped, one per line";
  r = Dead({"show", "--queue", queue_, "--id", std::to_string(ids[1]), "--raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, binary) << "byte-identical payload";
  r = Dead({"show", "--queue", queue_, "--id", std::to_string(ids[1])});
  EXPECT_NE(r.out.find("attempts     1 of 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reason       failed"), std::string::npos) << r.out;

  r = Dead({"requeue", "--queue", queue_, "--id", std::to_string(ids[1])});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("requeued " + std::to_string(ids[1]) + " as ", 0), 0u) << r.out;
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  EXPECT_EQ(job.payload(), binary);
  EXPECT_EQ(job.attempt(), 1u) << "a requeued job starts with fresh attempts";
  EXPECT_GT(job.id(), ids[1]);
  ASSERT_OK(worker->Complete(job));
  r = Dead({"requeue", "--queue", queue_, "--id", std::to_string(ids[1])});
  EXPECT_EQ(r.exit_code, 1) << "requeued once, then it is gone";
  EXPECT_NE(r.err.find("no dead letter"), std::string::npos) << r.err;
  EXPECT_TRUE(worker->Take(&job, 200).IsTimedOut());

  r = Dead({"purge", "--queue", queue_, "--all"});
  EXPECT_EQ(r.out, "purged 1\n") << r.err;
  r = Dead({"list", "--queue", queue_});
  EXPECT_EQ(r.out.find("first"), std::string::npos) << r.out;
}

TEST_F(DeadLetterTest, DeadLettersSurviveADaemonSigkillAndAreReadableWhileItIsDown) {
  Daemon d(queue_, wal_, {"--max-attempts", "1"});
  ASSERT_TRUE(d.Start());
  const std::vector<uint64_t> ids = EnqueueAndKill({"kept-a", "kept-b"});
  d.Kill();
  // The segment left behind still names the WAL directory; --dir needs no segment at all.
  for (const auto& where :
       {std::vector<std::string>{"--queue", queue_}, std::vector<std::string>{"--dir", wal_}}) {
    CommandResult r = Dead({"list", where[0], where[1]});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("kept-a"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("kept-b"), std::string::npos) << r.out;
  }
  CommandResult r = Dead({"list", "--queue", queue_ + "-never-ran"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--dir"), std::string::npos) << "tells how to read a stopped queue";

  Daemon again(queue_, wal_, {"--max-attempts", "1"});
  ASSERT_TRUE(again.Start());
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  EXPECT_TRUE(worker->Take(&job, 300).IsTimedOut()) << "dead jobs do not come back by themselves";
  r = Dead({"requeue", "--queue", queue_, "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"kept-a", "kept-b"}) {
    ASSERT_OK(worker->Take(&job, 5000));
    EXPECT_EQ(job.payload(), want);
    ASSERT_OK(worker->Complete(job));
  }
}

TEST_F(DeadLetterTest, OldestDeadLettersBeyondDeadMaxAreRemoved) {
  Daemon d(queue_, wal_, {"--max-attempts", "1", "--dead-max", "2"});
  ASSERT_TRUE(d.Start());
  const std::vector<uint64_t> ids = EnqueueAndKill({"j1", "j2", "j3", "j4"});
  std::unique_ptr<deadletter::DeadLetterStore> store;
  ASSERT_OK(deadletter::DeadLetterStore::Open(wal_, 0600, false, &store));
  std::vector<uint64_t> kept;
  ASSERT_OK(store->List(&kept));
  EXPECT_EQ(kept, (std::vector<uint64_t>{ids[2], ids[3]}));
  std::unique_ptr<segment::Segment> seg;
  ASSERT_OK(segment::Segment::Attach(queue_, true, &seg));
  EXPECT_EQ(seg->Read(segment::Counter::kDeadEvicted), 2u);
  EXPECT_EQ(seg->header()->dead_letters.load(), 2u);
}

TEST_F(DeadLetterTest, LetterOfAJobThatIsLiveAgainIsRemovedAtRecovery) {
  // A crash after the letter was written but before its DEAD record reached the WAL: the job
  // runs again, and the stale letter must not be requeued as a second copy.
  uint64_t id = 0;
  {
    Daemon d(queue_, wal_);
    ASSERT_TRUE(d.Start());
    std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    ASSERT_OK(prod->Enqueue("alive", &id));
    ASSERT_EQ(d.Stop(), 0);
  }
  std::unique_ptr<deadletter::DeadLetterStore> store;
  ASSERT_OK(deadletter::DeadLetterStore::Open(wal_, 0600, false, &store));
  deadletter::DeadLetter letter;
  letter.job_id = id;
  letter.payload = "alive";
  ASSERT_OK(store->Write(letter));
  Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  deadletter::DeadLetter out;
  EXPECT_TRUE(store->Read(id, &out).IsNotFound());
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  EXPECT_EQ(job.id(), id);
}

TEST_F(DeadLetterTest, JobRunningWhenTheDaemonWasKilledComesBackAsTheNextAttempt) {
  auto d = std::make_unique<Daemon>(queue_, wal_);
  ASSERT_TRUE(d->Start());
  uint64_t id = 0;
  {
    std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
    ASSERT_NE(prod, nullptr);
    ASSERT_OK(prod->Enqueue("interrupted", &id));
    std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
    ASSERT_NE(worker, nullptr);
    Job job;
    ASSERT_OK(worker->Take(&job, 5000));
    EXPECT_EQ(job.attempt(), 1u);
    // The START record is written (not synced) right after the take reaches the daemon.
    std::string dump;
    for (int i = 0; i < 200 && dump.find("type=start") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      dump = RunCommand({Cli(), "wal", "dump", "--dir", wal_}).out;
    }
    ASSERT_NE(dump.find("type=start job=" + std::to_string(id) + " attempt=1"), std::string::npos)
        << dump;
    d->Kill();
  }
  d = std::make_unique<Daemon>(queue_, wal_);
  ASSERT_TRUE(d->Start());
  EXPECT_NE(d->Log().find("1 of them were running"), std::string::npos) << d->Log();
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  EXPECT_EQ(job.id(), id);
  EXPECT_EQ(job.attempt(), 2u) << "the interrupted run counts, so the redelivery is visible";
  ASSERT_OK(worker->Complete(job));
  std::unique_ptr<segment::Segment> seg;
  ASSERT_OK(segment::Segment::Attach(queue_, true, &seg));
  EXPECT_EQ(seg->Read(segment::Counter::kRedelivered), 1u);
}

}  // namespace
}  // namespace taskring
