// The load tool's taskring backend: the public Producer and Worker, as an application uses them.
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

class TaskringReceiver : public Receiver {
 public:
  explicit TaskringReceiver(std::unique_ptr<Worker> w) : worker_(std::move(w)) {}

  Status Receive(std::string* payload, uint32_t timeout_ms) override {
    Status s = worker_->Take(&job_, timeout_ms);
    if (s.ok()) payload->assign(job_.payload());
    return s;
  }
  Status Ack() override { return worker_->Complete(job_); }

 private:
  std::unique_ptr<Worker> worker_;
  Job job_;
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
  if (s.ok()) *out = std::make_unique<TaskringReceiver>(std::move(w));
  return s;
}

}  // namespace taskring::loadgen
