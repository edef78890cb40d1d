// taskring::DeadLetters (include/taskring/dead_letters.h) against a real daemon: the rules
// `taskring dead` relies on, through the library: a requeue into a full queue keeps the letter,
// the store's lock keeps a second changer out, a stopped queue is read through its directory, and
// a requeuer SIGKILLed at random points loses no letter.
#include "taskring/dead_letters.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "taskring/job_client.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

class DeadLettersTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("dl");
  test::TempDir tmp_;
  std::string wal_ = tmp_.path() + "/wal";

  DeadLettersOptions Options(const std::string& dir = "") const {
    DeadLettersOptions o;
    o.queue = queue_;
    o.dir = dir;
    return o;
  }

  // Enqueues `payload` with `options` and fails its one attempt (--max-attempts 1 daemons).
  uint64_t MakeDead(Producer& prod, Worker& worker, const std::string& payload,
                    const EnqueueOptions& options = {}) {
    uint64_t id = 0;
    EXPECT_OK(prod.Enqueue(payload, &id, options));
    Job job;
    EXPECT_OK(worker.Take(&job, 5000));
    EXPECT_EQ(job.id(), id);
    EXPECT_OK(worker.Fail(job, "boom"));
    JobStatus st;
    for (int i = 0; i < 500; ++i) {
      if (prod.GetStatus(id, &st).ok() && st.state == JobState::kDead) return id;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " never became dead";
    return id;
  }
};

TEST_F(DeadLettersTest, RequeueIntoAFullQueueIsBusyAndKeepsTheLetter) {
  test::Daemon d(queue_, wal_, {"--max-attempts", "1", "--capacity", "4"});
  ASSERT_TRUE(d.Start());
  std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(prod, nullptr);
  ASSERT_NE(worker, nullptr);
  EnqueueOptions opts;
  opts.priority = 7;
  opts.type = "report.build";
  opts.headers = {{"trace", "t-9"}};
  opts.idempotency_key = "k-9";
  const std::string payload("dead\0bytes", 10);
  const uint64_t dead_id = MakeDead(*prod, *worker, payload, opts);

  std::unique_ptr<DeadLetters> dl;
  ASSERT_OK(DeadLetters::Open(Options(), &dl));
  ASSERT_TRUE(dl->exists());
  std::vector<uint64_t> ids;
  ASSERT_OK(dl->List(&ids));
  ASSERT_EQ(ids, std::vector<uint64_t>{dead_id});
  DeadLetter letter;
  ASSERT_OK(dl->Read(dead_id, &letter));
  EXPECT_EQ(letter.payload, payload);
  EXPECT_EQ(letter.reason, "failed");
  EXPECT_EQ(letter.priority, 7);
  EXPECT_EQ(letter.type, "report.build");
  EXPECT_EQ(letter.idempotency_key, "k-9");
  ASSERT_EQ(letter.headers.size(), 1u);
  EXPECT_EQ(letter.headers[0].second, "t-9");

  // Fill the queue: the requeue is refused and nothing changes.
  uint64_t id = 0;
  Status s;
  for (int i = 0; i < 10 && (s = prod->Enqueue("filler", &id)).ok(); ++i) {
  }
  ASSERT_TRUE(s.IsBusy()) << s.ToString();
  uint64_t new_id = 123;
  s = dl->Requeue(dead_id, &new_id);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_EQ(new_id, 0u);
  EXPECT_GT(dl->RetryAfterMs(), 0u);
  EXPECT_OK(dl->Read(dead_id, &letter)) << "a refused requeue keeps the letter";

  // Drain, then the requeue goes through: a new job with the letter's type and priority (not
  // its key), and the letter is gone.
  Job job;
  while (worker->Take(&job, 100).ok()) ASSERT_OK(worker->Complete(job));
  ASSERT_OK(dl->Requeue(dead_id, &new_id));
  EXPECT_GT(new_id, dead_id);
  EXPECT_TRUE(dl->Read(dead_id, &letter).IsNotFound());
  ASSERT_OK(worker->Take(&job, 5000));
  EXPECT_EQ(job.id(), new_id);
  EXPECT_EQ(job.payload(), payload);
  EXPECT_EQ(job.type(), "report.build");
  EXPECT_EQ(job.priority(), 7);
  EXPECT_EQ(job.attempt(), 1u);
  ASSERT_OK(worker->Complete(job));
}

TEST_F(DeadLettersTest, AChangeWaitsForTheProcessHoldingTheLock) {
  test::Daemon d(queue_, wal_, {"--max-attempts", "1"});
  ASSERT_TRUE(d.Start());
  std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(prod, nullptr);
  ASSERT_NE(worker, nullptr);
  const uint64_t dead_id = MakeDead(*prod, *worker, "x");

  std::unique_ptr<DeadLetters> holder, other;
  ASSERT_OK(DeadLetters::Open(Options(), &holder));
  ASSERT_OK(DeadLetters::Open(Options(), &other));
  ASSERT_OK(holder->Lock());
  std::string pid;
  EXPECT_TRUE(other->Lock(&pid).IsBusy());
  EXPECT_EQ(pid, std::to_string(::getpid()));
  uint64_t new_id = 0, purged = 0;
  Status s = other->Requeue(dead_id, &new_id);
  EXPECT_TRUE(s.IsNotReady()) << s.ToString();
  EXPECT_NE(s.message().find("pid " + pid), std::string_view::npos) << s.ToString();
  EXPECT_TRUE(other->Purge(dead_id).IsNotReady());
  EXPECT_TRUE(other->PurgeAll(&purged).IsNotReady());
  // The holder's own changes go through under its lock.
  DeadLetter letter;
  EXPECT_OK(holder->Read(dead_id, &letter));
  holder->Unlock();
  EXPECT_OK(other->PurgeAll(&purged));
  EXPECT_EQ(purged, 1u);
}

TEST_F(DeadLettersTest, AStoppedQueueIsReadThroughItsDirectory) {
  {
    test::Daemon d(queue_, wal_, {"--max-attempts", "1"});
    ASSERT_TRUE(d.Start());
    std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
    std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
    ASSERT_NE(prod, nullptr);
    ASSERT_NE(worker, nullptr);
    MakeDead(*prod, *worker, "kept");
    EXPECT_EQ(d.Stop(), 0);
  }
  std::unique_ptr<DeadLetters> dl;
  Status s = DeadLetters::Open(Options(), &dl);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("--dir"), std::string_view::npos) << s.ToString();
  ASSERT_OK(DeadLetters::Open(Options(wal_), &dl));
  std::vector<uint64_t> ids;
  ASSERT_OK(dl->List(&ids));
  ASSERT_EQ(ids.size(), 1u);
  DeadLetter letter;
  ASSERT_OK(dl->Read(ids[0], &letter));
  EXPECT_EQ(letter.payload, "kept");
  uint64_t new_id = 0;
  EXPECT_FALSE(dl->Requeue(ids[0], &new_id).ok()) << "no daemon to requeue into";
  EXPECT_OK(dl->Read(ids[0], &letter)) << "and the letter stays";

  // A directory where no job ever died: empty, and reads say so.
  DeadLettersOptions no_queue;
  no_queue.dir = tmp_.path() + "/none";
  ASSERT_OK(DeadLetters::Open(no_queue, &dl));
  EXPECT_FALSE(dl->exists());
  ASSERT_OK(dl->List(&ids));
  EXPECT_TRUE(ids.empty());
  s = dl->Read(1, &letter);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

// Requeue removes a letter only after its new job is accepted, so a requeuer killed at any point
// leaves every letter either still stored or enqueued again (both, when the kill falls between
// the accept and the removal: a duplicate, never a loss), and its lock dies with it.
TEST_F(DeadLettersTest, ARequeuerKilledAtRandomPointsLosesNoLetter) {
  constexpr int kLetters = 30;
  constexpr int kMaxRounds = 40;
  test::Daemon d(queue_, wal_, {"--max-attempts", "1", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  std::map<std::string, int, std::less<>> wanted;  // payload -> copies found at the end
  {
    std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
    std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
    ASSERT_NE(prod, nullptr);
    ASSERT_NE(worker, nullptr);
    for (int i = 0; i < kLetters; ++i) {
      const std::string payload = "letter-" + std::to_string(i);
      MakeDead(*prod, *worker, payload);
      wanted[payload] = 0;
    }
  }
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_us(0, 20'000);
  int rounds = 0, killed = 0;
  std::vector<uint64_t> ids;
  std::unique_ptr<DeadLetters> dl;
  ASSERT_OK(DeadLetters::Open(Options(), &dl));
  for (; rounds < kMaxRounds; ++rounds) {
    ASSERT_OK(dl->List(&ids));
    if (ids.empty()) break;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::unique_ptr<DeadLetters> mine;
      if (!DeadLetters::Open(Options(), &mine).ok()) ::_exit(2);
      for (uint64_t id : ids) {
        uint64_t new_id = 0;
        const Status s = mine->Requeue(id, &new_id);
        if (!s.ok() && !s.IsNotReady()) ::_exit(3);  // NotReady: a killed peer's lock, retried
      }
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    killed += ::kill(child, SIGKILL) == 0 ? 1 : 0;
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "requeuer failed";
    }
  }
  // Whatever the kills left, a last requeue in this process finishes the job: the dead
  // requeuers' locks went with them.
  ASSERT_OK(dl->List(&ids));
  for (uint64_t id : ids) {
    uint64_t new_id = 0;
    ASSERT_OK(dl->Requeue(id, &new_id)) << "letter " << id;
  }
  ASSERT_OK(dl->List(&ids));
  EXPECT_TRUE(ids.empty());

  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  int jobs = 0;
  Job job;
  while (worker->Take(&job, 500).ok()) {
    ++jobs;
    auto it = wanted.find(job.payload());
    ASSERT_NE(it, wanted.end()) << "unexpected payload " << job.payload();
    ++it->second;
    ASSERT_OK(worker->Complete(job));
  }
  for (const auto& [payload, copies] : wanted) {
    EXPECT_GE(copies, 1) << payload << " was lost";
  }
  std::printf("%d requeuer(s) killed over %d round(s): %d letters became %d jobs (%d duplicates)\n",
              killed, rounds, kLetters, jobs, jobs - kLetters);
}

}  // namespace
}  // namespace taskring
