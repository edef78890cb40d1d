// The gateway's ProducerPool against a real daemon: enqueues waiting in its FIFO go to the
// daemon together (one EnqueueBatch), in order, each answered on its own; a keyed enqueue or
// different options start a new batch.
#include "http/producer_pool.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "test_util.h"

namespace taskring::http {
namespace {

TEST(CanBatchTogetherTest, EqualOptionsWithoutKeysOnly) {
  EnqueueOptions a, b;
  EXPECT_TRUE(CanBatchTogether(a, b));
  a.type = b.type = "email";
  a.headers = b.headers = {{"trace", "1"}};
  a.priority = b.priority = 9;
  EXPECT_TRUE(CanBatchTogether(a, b));
  EnqueueOptions c = a;
  c.priority = 8;
  EXPECT_FALSE(CanBatchTogether(a, c));
  c = a;
  c.type = "sms";
  EXPECT_FALSE(CanBatchTogether(a, c));
  c = a;
  c.headers[0].second = "2";
  EXPECT_FALSE(CanBatchTogether(a, c));
  c = a;
  c.delay_ms = 5;
  EXPECT_FALSE(CanBatchTogether(a, c));
  c = a;
  c.idempotency_key = "k";
  EXPECT_FALSE(CanBatchTogether(a, c));
  EXPECT_FALSE(CanBatchTogether(c, c)) << "a key names one job";
}

class ProducerPoolTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("pool");
  test::TempDir tmp_;
  std::atomic<uint64_t> generation_{0};

  struct Answer {
    bool done = false;
    EnqueueResult result;
    uint32_t retry_after_ms = 0;
  };

  // One pool thread, held by a task until Release(): what is submitted meanwhile waits in the
  // FIFO, as it does behind a commit on a busy gateway.
  void Hold(ProducerPool& pool) {
    ASSERT_TRUE(pool.Submit([this](Producer*, const Status&) {
      release_.get_future().wait();
      return true;
    }));
  }
  void Release() { release_.set_value(); }

  void Submit(ProducerPool& pool, std::string payload, EnqueueOptions options) {
    const size_t i = answers_.size();
    answers_.emplace_back();
    EnqueueWork w;
    w.payload = std::move(payload);
    w.options = std::make_shared<const EnqueueOptions>(std::move(options));
    w.done = [this, i](const EnqueueResult& r, uint32_t retry_after_ms) {
      std::lock_guard<std::mutex> lock(mu_);
      answers_[i].done = true;
      answers_[i].result = r;
      answers_[i].retry_after_ms = retry_after_ms;
      cv_.notify_all();
    };
    ASSERT_TRUE(pool.Submit(std::move(w)));
  }
  void WaitAll() {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const Answer& a : answers_) {
        if (!a.done) return false;
      }
      return true;
    }));
  }

  std::promise<void> release_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Answer> answers_;  // reserved up front: callbacks index into it
};

TEST_F(ProducerPoolTest, WaitingEnqueuesGoInOneBatchInOrder) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  answers_.reserve(10);
  ProducerPool pool(queue_, 1, 100, &generation_);
  Hold(pool);
  for (int i = 0; i < 10; ++i) Submit(pool, "job " + std::to_string(i), {});
  Release();
  WaitAll();
  EXPECT_EQ(pool.batches(), 1u);
  for (size_t i = 0; i < answers_.size(); ++i) {
    const EnqueueResult& r = answers_[i].result;
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.ToString();
    EXPECT_TRUE(r.token.valid()) << i;
    if (i > 0) {
      EXPECT_GT(r.job_id, answers_[i - 1].result.job_id) << "FIFO order";
    }
  }
}

TEST_F(ProducerPoolTest, AKeyOrOtherOptionsStartANewBatch) {
  test::Daemon d(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(d.Start());
  answers_.reserve(10);
  ProducerPool pool(queue_, 1, 100, &generation_);
  Hold(pool);
  EnqueueOptions keyed;
  keyed.idempotency_key = "order-1";
  EnqueueOptions urgent;
  urgent.priority = 9;
  Submit(pool, "a", {});
  Submit(pool, "b", {});
  Submit(pool, "keyed", keyed);        // alone
  Submit(pool, "keyed again", keyed);  // alone: the same job
  Submit(pool, "c", {});
  Submit(pool, "urgent", urgent);  // other options
  Submit(pool, "urgent 2", urgent);
  Release();
  WaitAll();
  EXPECT_EQ(pool.batches(), 5u) << "{a b} {keyed} {keyed again} {c} {urgent urgent 2}";
  for (const Answer& a : answers_) ASSERT_TRUE(a.result.status.ok()) << a.result.status.ToString();
  EXPECT_FALSE(answers_[2].result.duplicate);
  EXPECT_TRUE(answers_[3].result.duplicate);
  EXPECT_EQ(answers_[3].result.job_id, answers_[2].result.job_id);
}

TEST_F(ProducerPoolTest, EachItemOfABatchIsAnsweredOnItsOwn) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "4", "--max-payload", "64"});
  ASSERT_TRUE(d.Start());
  answers_.reserve(10);
  ProducerPool pool(queue_, 1, 100, &generation_);
  Hold(pool);
  for (int i = 0; i < 6; ++i) Submit(pool, "fits", {});
  Submit(pool, std::string(65, 'x'), {});  // over the max payload
  Release();
  WaitAll();
  EXPECT_EQ(pool.batches(), 1u);
  int accepted = 0, busy = 0;
  for (size_t i = 0; i + 1 < answers_.size(); ++i) {
    const Answer& a = answers_[i];
    if (a.result.status.ok()) {
      ++accepted;
      EXPECT_EQ(a.retry_after_ms, 0u);
    } else {
      ASSERT_TRUE(a.result.status.IsBusy()) << a.result.status.ToString();
      EXPECT_GT(a.retry_after_ms, 0u) << "a Busy answer carries the daemon's hint";
      ++busy;
    }
  }
  EXPECT_EQ(accepted, 4) << "capacity 4";
  EXPECT_EQ(busy, 2);
  EXPECT_TRUE(answers_.back().result.status.IsInvalidArgument())
      << answers_.back().result.status.ToString();
}

TEST_F(ProducerPoolTest, WithoutADaemonEveryItemGetsTheOpenError) {
  answers_.reserve(3);
  ProducerPool pool(queue_, 1, 100, &generation_);
  Hold(pool);
  for (int i = 0; i < 3; ++i) Submit(pool, "x", {});
  Release();
  WaitAll();
  for (const Answer& a : answers_) {
    EXPECT_TRUE(a.result.status.IsNotFound()) << a.result.status.ToString();
    EXPECT_EQ(a.result.job_id, 0u);
  }
}

}  // namespace
}  // namespace taskring::http
