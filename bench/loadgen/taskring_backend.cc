// The load tool's taskring backend: the public Producer and Worker, as an application uses them.
#include <algorithm>
#include <vector>

#include "loadgen/backend.h"
#include "taskring/producer.h"
#include "taskring/worker.h"

namespace taskring::loadgen {
namespace {

class TaskringSender : public Sender {
 public:
  explicit TaskringSender(std::unique_ptr<Producer> p) : producer_(std::move(p)) {}

  Status Send(std::span<const std::string_view> payloads, std::span<SendOutcome> out) override {
    results_.resize(payloads.size());
    Status s = producer_->EnqueueBatch(payloads, results_);
    for (size_t i = 0; i < payloads.size(); ++i) {
      out[i] = results_[i].status.ok()       ? SendOutcome::kAccepted
               : results_[i].status.IsBusy() ? SendOutcome::kBusy
                                             : SendOutcome::kError;
    }
    return s;
  }

 private:
  std::unique_ptr<Producer> producer_;
  std::vector<EnqueueResult> results_;
};

// With a take batch of 1, Take and Complete per job. Otherwise TakeMany fills a batch, Receive
// hands its jobs out one by one, and the batch is completed in one CompleteMany when its last
// job is acknowledged: the earlier jobs' finish times are when their handler finished, their
// completion reaches the daemon with the last one's.
class TaskringReceiver : public Receiver {
 public:
  TaskringReceiver(std::unique_ptr<Worker> w, uint32_t batch)
      : worker_(std::move(w)), held_(batch) {}

  Status Receive(std::string* payload, uint32_t timeout_ms) override {
    if (next_ == taken_) {
      Status s = worker_->TakeMany(held_, &taken_, timeout_ms);
      next_ = 0;
      acked_ = 0;
      if (!s.ok()) {
        taken_ = 0;
        return s;
      }
    }
    payload->assign(held_[next_++].payload());
    return Status::OK();
  }
  Status Ack() override {
    if (held_.size() == 1) return worker_->Complete(held_[0]);
    if (++acked_ < taken_) return Status::OK();
    return worker_->CompleteMany(std::span<const Job>(held_.data(), taken_));
  }

 private:
  std::unique_ptr<Worker> worker_;
  std::vector<Job> held_;
  size_t taken_ = 0;  // jobs in held_ from the last TakeMany
  size_t next_ = 0;   // the next one Receive hands out
  size_t acked_ = 0;
};

}  // namespace

Status MakeTaskringSender(const Target& t, std::unique_ptr<Sender>* out) {
  ProducerOptions o;
  o.queue = t.queue;
  std::unique_ptr<Producer> p;
  Status s = Producer::Open(o, &p);
  if (s.ok()) *out = std::make_unique<TaskringSender>(std::move(p));
  return s;
}

Status MakeTaskringReceiver(const Target& t, std::unique_ptr<Receiver>* out) {
  WorkerOptions o;
  o.queue = t.queue;
  std::unique_ptr<Worker> w;
  Status s = Worker::Open(o, &w);
  if (s.ok()) *out = std::make_unique<TaskringReceiver>(std::move(w), std::max(1u, t.take_batch));
  return s;
}

}  // namespace taskring::loadgen
