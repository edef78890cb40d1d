// The load tool's taskring backend: the public Producer and Worker, as an application uses them.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "loadgen/backend.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "util/clock.h"

namespace taskring::loadgen {
namespace {

// The headers --headers N puts on every job: short trace-id-like pairs.
std::vector<std::pair<std::string, std::string>> BenchHeaders(uint32_t n) {
  std::vector<std::pair<std::string, std::string>> h;
  for (uint32_t i = 0; i < n; ++i) {
    char value[17];
    std::snprintf(value, sizeof(value), "%016x", 0x5eed0000u + i);
    h.emplace_back("h" + std::to_string(i), value);
  }
  return h;
}

SendOutcome Outcome(const EnqueueResult& r) {
  return r.status.ok()       ? SendOutcome::kAccepted
         : r.status.IsBusy() ? SendOutcome::kBusy
                             : SendOutcome::kError;
}

class TaskringSender : public Sender {
 public:
  TaskringSender(std::unique_ptr<Producer> p, const JobOptions& job)
      : producer_(std::move(p)), job_(job), plain_(job.plain_jobs()) {
    if (job.priority >= 0) options_.priority = job.priority;
    options_.type = job.type;
    options_.headers = BenchHeaders(job.headers);
    options_.delay_ms = job.delay_ms;
    // Keys unique across processes and runs (a --queue daemon keeps keys for its dedup window):
    // this process's start time and pid, then a sequence number.
    key_prefix_ =
        "lg-" + std::to_string(util::NowMonoNs()) + "-" + std::to_string(::getpid()) + "-";
    rng_.seed(static_cast<uint32_t>(::getpid()));
  }

  Status Send(std::span<const std::string_view> payloads, std::span<SendOutcome> out) override {
    results_.resize(payloads.size());
    if (plain_) {  // plain jobs: exactly the call made before job options existed
      Status s = producer_->EnqueueBatch(payloads, results_);
      for (size_t i = 0; i < payloads.size(); ++i) out[i] = Outcome(results_[i]);
      return s;
    }
    if (!job_.keyed) {
      if (job_.random_priority) options_.priority = static_cast<int>(rng_() % 10);
      Status s = producer_->EnqueueBatch(payloads, results_, options_);
      for (size_t i = 0; i < payloads.size(); ++i) out[i] = Outcome(results_[i]);
      return s;
    }
    // --keyed: a key names one job, so one Enqueue per job, each with a key never used before.
    // A job retried after Busy gets a new key (Busy created nothing, so either would do).
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (job_.random_priority) options_.priority = static_cast<int>(rng_() % 10);
      options_.idempotency_key = key_prefix_ + std::to_string(next_key_++);
      EnqueueResult& r = results_[i];
      (void)producer_->Enqueue(payloads[i], options_, &r);
      if (r.status.ok() && r.duplicate) {
        return Status::Corruption("a fresh idempotency key was answered as a duplicate: " +
                                  options_.idempotency_key);
      }
      out[i] = Outcome(r);
      if (out[i] == SendOutcome::kError && !r.status.IsInvalidArgument()) {
        // The daemon failed: the rest of the batch is not sent (as EnqueueBatch reports it).
        for (size_t j = i + 1; j < payloads.size(); ++j) out[j] = SendOutcome::kError;
        return r.status;
      }
    }
    return Status::OK();
  }

 private:
  std::unique_ptr<Producer> producer_;
  const JobOptions job_;
  const bool plain_;
  EnqueueOptions options_;
  std::string key_prefix_;
  uint64_t next_key_ = 0;
  std::minstd_rand rng_;
  std::vector<EnqueueResult> results_;
};

// A job that lost what --type, --priority or --headers gave it is a fault of taskring, not a
// figure: the receiver checks each job it takes when job options are set.
Status CheckJob(const Job& j, const JobOptions& o) {
  if (j.type() != o.type) return Status::Corruption("job arrived with type '" + j.type() + "'");
  if (o.priority >= 0 && j.priority() != o.priority) {
    return Status::Corruption("job arrived with priority " + std::to_string(j.priority()));
  }
  if (j.headers().size() != o.headers) {
    return Status::Corruption("job arrived with " + std::to_string(j.headers().size()) +
                              " headers");
  }
  return Status::OK();
}

// With a take batch of 1, Take and Complete per job. Otherwise TakeMany fills a batch, Receive
// hands its jobs out one by one, and the batch is completed in one CompleteMany when its last
// job is acknowledged: the earlier jobs' finish times are when their handler finished, their
// completion reaches the daemon with the last one's. With --result-bytes N, each job is
// completed with an N-byte result by its own Complete(job, result) when it is acknowledged
// (there is no CompleteMany with results).
class TaskringReceiver : public Receiver {
 public:
  TaskringReceiver(std::unique_ptr<Worker> w, uint32_t batch, const JobOptions& job)
      : worker_(std::move(w)),
        held_(batch),
        job_(job),
        check_(!job.plain_jobs()),
        result_(job.result_bytes, 'r') {}

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
    if (check_) {
      Status c = CheckJob(held_[next_], job_);
      if (!c.ok()) return c;
    }
    payload->assign(held_[next_++].payload());
    return Status::OK();
  }
  Status Ack() override {
    if (!result_.empty()) return worker_->Complete(held_[next_ - 1], result_);
    if (held_.size() == 1) return worker_->Complete(held_[0]);
    if (++acked_ < taken_) return Status::OK();
    return worker_->CompleteMany(std::span<const Job>(held_.data(), taken_));
  }

 private:
  std::unique_ptr<Worker> worker_;
  std::vector<Job> held_;
  const JobOptions job_;
  const bool check_;
  const std::string result_;  // what each job is completed with; empty: no result
  size_t taken_ = 0;          // jobs in held_ from the last TakeMany
  size_t next_ = 0;           // the next one Receive hands out
  size_t acked_ = 0;
};

}  // namespace

Status MakeTaskringSender(const Target& t, std::unique_ptr<Sender>* out) {
  ProducerOptions o;
  o.queue = t.queue;
  std::unique_ptr<Producer> p;
  Status s = Producer::Open(o, &p);
  if (s.ok()) *out = std::make_unique<TaskringSender>(std::move(p), t.job);
  return s;
}

Status MakeTaskringReceiver(const Target& t, std::unique_ptr<Receiver>* out) {
  WorkerOptions o;
  o.queue = t.queue;
  o.types = t.job.worker_types;
  std::unique_ptr<Worker> w;
  Status s = Worker::Open(o, &w);
  if (s.ok()) {
    *out = std::make_unique<TaskringReceiver>(std::move(w), std::max(1u, t.take_batch), t.job);
  }
  return s;
}

}  // namespace taskring::loadgen
