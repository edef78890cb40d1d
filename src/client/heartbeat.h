// Keeps the leases of jobs in hand alive while their handlers run: every period it calls
// `touch` for each registered job. Lives for one Worker::Run.
#ifndef TASKRING_CLIENT_HEARTBEAT_H_
#define TASKRING_CLIENT_HEARTBEAT_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "taskring/job.h"

namespace taskring::client {

class Heartbeat {
 public:
  Heartbeat(std::chrono::milliseconds period, std::function<void(const Job&)> touch)
      : period_(period), touch_(std::move(touch)), thread_([this] { Loop(); }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  void Add(const Job& job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(job);
  }
  void Remove(const Job& job) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < jobs_.size(); ++i) {
      if (jobs_[i].id() == job.id() && jobs_[i].attempt() == job.attempt()) {
        jobs_[i] = jobs_.back();
        jobs_.pop_back();
        return;
      }
    }
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period_, [this] { return stop_; })) {
      // Touch under the lock: a job is never touched after Remove returned, so a heartbeat
      // cannot race past the job's outcome.
      for (const Job& job : jobs_) touch_(job);
    }
  }

  const std::chrono::milliseconds period_;
  const std::function<void(const Job&)> touch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace taskring::client

#endif  // TASKRING_CLIENT_HEARTBEAT_H_
