#include "http/producer_pool.h"

#include <algorithm>

namespace taskring::http {

ProducerPool::ProducerPool(std::string queue, uint32_t threads, uint32_t max_pending,
                           const std::atomic<uint64_t>* generation)
    : queue_(std::move(queue)), max_pending_(max_pending), generation_(generation) {
  for (uint32_t i = 0; i < std::max<uint32_t>(threads, 1); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

ProducerPool::~ProducerPool() { Stop(); }

void ProducerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool ProducerPool::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || tasks_.size() >= max_pending_) return false;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

size_t ProducerPool::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void ProducerPool::Run() {
  std::unique_ptr<Producer> producer;
  uint64_t opened_generation = 0;
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and everything queued has run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    const uint64_t generation = generation_->load(std::memory_order_acquire);
    if (producer != nullptr && generation != opened_generation) producer.reset();
    Status open_status;
    if (producer == nullptr) {
      ProducerOptions o;
      o.queue = queue_;
      o.attach_timeout_ms = 1000;  // a starting daemon: answer 503 soon rather than hang
      // Sleep at once while the daemon commits: several pool threads spinning on a host with few
      // cores take the CPU the io thread and the daemon need (bench-http: 41% of the pool's
      // time was spent spinning in WaitCommitted).
      o.spin_iterations = 0;
      open_status = Producer::Open(o, &producer);
      opened_generation = generation;
      if (!open_status.ok()) producer.reset();
    }
    if (!task(producer.get(), open_status)) producer.reset();
  }
}

}  // namespace taskring::http
