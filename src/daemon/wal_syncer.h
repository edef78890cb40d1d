// Runs the WAL's fdatasync on a thread of its own, one at a time, so the engine can drain lanes
// and write the next group of records while the disk flushes the current one (pipelined group
// commit). The engine starts a sync of the current segment file, keeps working, and collects the
// result later; `on_done` (ringing the engine's doorbell) tells a sleeping engine it finished.
//
// The engine must not close or replace the file while a sync is in flight: it collects first
// (Wait) before a segment rotation, a checkpoint or shutdown.
#ifndef TASKRING_DAEMON_WAL_SYNCER_H_
#define TASKRING_DAEMON_WAL_SYNCER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "io/env.h"
#include "taskring/status.h"

namespace taskring::daemon {

class WalSyncer {
 public:
  explicit WalSyncer(std::function<void()> on_done);
  ~WalSyncer();  // lets a sync in flight finish, then joins
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // Starts file->DataSync(). Precondition: !busy().
  void Start(io::WritableFile* file);
  // A sync was started and its result not collected yet.
  bool busy() const { return busy_; }
  // True once the sync in flight has finished (its result is waiting to be collected). One load:
  // the engine's idle loop checks it on every spin.
  bool finished() const { return done_.load(std::memory_order_acquire); }
  // If the sync finished: its status and how long it took, and busy() becomes false.
  bool TryCollect(Status* status, uint64_t* duration_ns);
  // Blocks until the sync in flight finishes and collects it. Precondition: busy().
  void Collect(Status* status, uint64_t* duration_ns);

 private:
  void Loop();

  const std::function<void()> on_done_;
  bool busy_ = false;  // engine thread only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  io::WritableFile* file_ = nullptr;  // the sync to run; null when idle
  std::atomic<bool> done_{false};     // written under mu_
  Status result_;
  uint64_t duration_ns_ = 0;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_WAL_SYNCER_H_
