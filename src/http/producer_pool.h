// Blocking calls of one queue, run off the io thread. A Producer serves one thread at a time
// and waits for the WAL commit (an fdatasync in fsync mode), so the gateway keeps a few threads
// per queue, each with its own Producer (one client entry each), fed by a bounded FIFO.
//
// Enqueues are batched: a thread takes the enqueue at the head of the FIFO and the ones right
// behind it that carry the same options and no idempotency key (up to kMaxBatch), and hands them
// to the daemon with one EnqueueBatch: one commit wait and one wake-up for all of them, each
// still answered on its own. So many requests in flight cost the daemon and the kernel about
// as much as a few (bench-http measures it). A keyed enqueue goes alone: a key names one job.
//
// Work runs on a pool thread and must hand its answer back to the io thread itself
// (asio::post). Thread-safe.
#ifndef TASKRING_HTTP_PRODUCER_POOL_H_
#define TASKRING_HTTP_PRODUCER_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "taskring/options.h"
#include "taskring/producer.h"
#include "taskring/status.h"

namespace taskring::http {

// One job to enqueue. `done` runs on the pool thread with the job's own result (its status says
// why it was not accepted: Busy, InvalidArgument, Closed, or the Producer's open failure) and,
// for Busy, the daemon's retry-after hint.
struct EnqueueWork {
  std::string payload;
  std::shared_ptr<const EnqueueOptions> options;
  std::function<void(const EnqueueResult& result, uint32_t retry_after_ms)> done;
};

// Whether two enqueues may share one EnqueueBatch: equal options, and no idempotency key.
bool CanBatchTogether(const EnqueueOptions& a, const EnqueueOptions& b);

class ProducerPool {
 public:
  static constexpr size_t kMaxBatch = 64;
  static constexpr size_t kWakeEvery = 16;  // waiting items per extra thread woken

  // `producer`: this thread's Producer, opened on first use and reopened after the daemon
  // changed (null, with `open_status` saying why, when it cannot be opened now). A task returns
  // false when the Producer reported the daemon gone (Closed): the next task opens a new one.
  using Task = std::function<bool(Producer* producer, const Status& open_status)>;

  // `generation`: bumped by the owner when the queue's daemon was seen to change; a thread
  // whose Producer is from an older generation reopens it before its next task.
  ProducerPool(std::string queue, uint32_t threads, uint32_t max_pending,
               const std::atomic<uint64_t>* generation);
  ~ProducerPool();  // Stop()
  // Runs what is queued (each task answers), then joins the threads; later Submits fail.
  void Stop();
  ProducerPool(const ProducerPool&) = delete;
  ProducerPool& operator=(const ProducerPool&) = delete;

  // False (not taken) when max_pending tasks and enqueues already wait: the caller answers 503.
  [[nodiscard]] bool Submit(Task task);
  [[nodiscard]] bool Submit(EnqueueWork work);
  [[nodiscard]] size_t pending() const;
  // Calls made to the daemon for enqueues so far (one per batch): enqueues / batches is the
  // batching bench-http sees.
  [[nodiscard]] uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }

 private:
  using Work = std::variant<Task, EnqueueWork>;
  bool Push(Work work);
  void Run();
  // Under mu_: moves the enqueue at the head, and those behind it it can share a batch with,
  // into *batch.
  void TakeBatch(std::vector<EnqueueWork>* batch);
  // Returns false when the daemon was found gone (reopen the Producer).
  bool RunBatch(std::vector<EnqueueWork>& batch, Producer* producer, const Status& open_status);

  const std::string queue_;
  const uint32_t max_pending_;
  const std::atomic<uint64_t>* generation_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> work_;
  bool stopping_ = false;
  std::atomic<uint64_t> batches_{0};
  std::vector<std::thread> threads_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_PRODUCER_POOL_H_
