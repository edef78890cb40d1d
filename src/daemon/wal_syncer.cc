#include "daemon/wal_syncer.h"

#include "util/clock.h"

namespace taskring::daemon {

WalSyncer::WalSyncer(std::function<void()> on_done)
    : on_done_(std::move(on_done)), thread_([this] { Loop(); }) {}

WalSyncer::~WalSyncer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WalSyncer::Start(io::WritableFile* file) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    file_ = file;
    done_.store(false, std::memory_order_relaxed);
  }
  busy_ = true;
  cv_.notify_all();
}

bool WalSyncer::TryCollect(Status* status, uint64_t* duration_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!busy_ || !done_.load(std::memory_order_relaxed)) return false;
  *status = result_;
  *duration_ns = duration_ns_;
  done_.store(false, std::memory_order_relaxed);
  busy_ = false;
  return true;
}

void WalSyncer::Collect(Status* status, uint64_t* duration_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_.load(std::memory_order_relaxed); });
  *status = result_;
  *duration_ns = duration_ns_;
  done_.store(false, std::memory_order_relaxed);
  busy_ = false;
}

void WalSyncer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return quit_ || file_ != nullptr; });
    if (file_ == nullptr) return;  // quit with nothing in flight
    io::WritableFile* file = file_;
    lock.unlock();
    const uint64_t start = util::NowMonoNs();
    Status s = file->DataSync();
    const uint64_t took = util::NowMonoNs() - start;
    lock.lock();
    result_ = s;
    duration_ns_ = took;
    file_ = nullptr;
    done_.store(true, std::memory_order_release);
    cv_.notify_all();
    lock.unlock();
    on_done_();
    lock.lock();
  }
}

}  // namespace taskring::daemon
