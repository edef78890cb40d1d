#include "http/producer_pool.h"

#include <algorithm>
#include <string_view>

namespace taskring::http {

bool CanBatchTogether(const EnqueueOptions& a, const EnqueueOptions& b) {
  return a.idempotency_key.empty() && b.idempotency_key.empty() &&
         a.max_attempts == b.max_attempts && a.delay_ms == b.delay_ms &&
         a.run_at_unix_ns == b.run_at_unix_ns && a.priority == b.priority && a.type == b.type &&
         a.headers == b.headers && a.timeout_ms == b.timeout_ms;
}

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

bool ProducerPool::Submit(Task task) { return Push(std::move(task)); }

bool ProducerPool::Submit(EnqueueWork work) { return Push(std::move(work)); }

bool ProducerPool::Push(Work work) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || work_.size() >= max_pending_) return false;
    work_.push_back(std::move(work));
    // A thread is woken for the first item of a burst, and another for each kWakeEvery items
    // that wait: the rest are taken by threads coming back from their commit, in batches. A
    // wake per item would cost a futex call on the io thread and a batch of one per request.
    wake = work_.size() == 1 || work_.size() % kWakeEvery == 0;
  }
  if (wake) cv_.notify_one();
  return true;
}

size_t ProducerPool::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return work_.size();
}

void ProducerPool::TakeBatch(std::vector<EnqueueWork>* batch) {
  batch->push_back(std::get<EnqueueWork>(std::move(work_.front())));
  work_.pop_front();
  const EnqueueOptions& first = *batch->front().options;
  // Only the run right behind the head: the FIFO's order holds across batches.
  while (!work_.empty() && batch->size() < kMaxBatch) {
    auto* next = std::get_if<EnqueueWork>(&work_.front());
    if (next == nullptr || !CanBatchTogether(first, *next->options)) break;
    batch->push_back(std::move(*next));
    work_.pop_front();
  }
}

bool ProducerPool::RunBatch(std::vector<EnqueueWork>& batch, Producer* producer,
                            const Status& open_status) {
  std::vector<EnqueueResult> results(batch.size());
  if (producer == nullptr) {
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i].status = open_status;
      batch[i].done(results[i], 0);
    }
    return true;
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  Status call;
  if (batch.size() == 1) {
    // Alone (a keyed enqueue always is): Enqueue, which also reports a duplicate key.
    call = producer->Enqueue(batch[0].payload, *batch[0].options, &results[0]);
  } else {
    std::vector<std::string_view> payloads;
    payloads.reserve(batch.size());
    for (const EnqueueWork& w : batch) payloads.emplace_back(w.payload);
    call = producer->EnqueueBatch(payloads, results, *batch[0].options);
  }
  bool busy = false;
  for (const EnqueueResult& r : results) busy |= r.status.IsBusy();
  const uint32_t retry_after_ms = busy ? producer->RetryAfterMs() : 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(results[i], results[i].status.IsBusy() ? retry_after_ms : 0);
  }
  return !call.IsClosed();
}

void ProducerPool::Run() {
  std::unique_ptr<Producer> producer;
  uint64_t opened_generation = 0;
  std::vector<EnqueueWork> batch;
  batch.reserve(kMaxBatch);
  for (;;) {
    Task task;
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !work_.empty(); });
      if (work_.empty()) return;  // stopping, and everything queued has run
      if (std::holds_alternative<Task>(work_.front())) {
        task = std::get<Task>(std::move(work_.front()));
        work_.pop_front();
      } else {
        TakeBatch(&batch);
      }
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
    const bool daemon_up =
        task ? task(producer.get(), open_status) : RunBatch(batch, producer.get(), open_status);
    if (!daemon_up) producer.reset();
  }
}

}  // namespace taskring::http
