// Blocking calls of one queue, run off the io thread. A Producer serves one thread at a time
// and waits for the WAL commit (an fdatasync in fsync mode), so the gateway keeps a few threads
// per queue, each with its own Producer (one client entry each), fed by a bounded FIFO. Many
// enqueues from many connections are in flight at once: each thread has one in the daemon's
// group commit, and the rest wait their turn in the FIFO, never on the io thread.
//
// Tasks run on a pool thread and must hand their answer back to the io thread themselves
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
#include <vector>

#include "taskring/producer.h"
#include "taskring/status.h"

namespace taskring::http {

class ProducerPool {
 public:
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

  // False (task not taken) when max_pending tasks already wait: the caller answers 503.
  [[nodiscard]] bool Submit(Task task);
  [[nodiscard]] size_t pending() const;

 private:
  void Run();

  const std::string queue_;
  const uint32_t max_pending_;
  const std::atomic<uint64_t>* generation_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_PRODUCER_POOL_H_
