// The supervisor thread: every 100 ms it notices clients whose
// process is gone (pid + start time, so a recycled pid is not mistaken for the client) and tells
// the engine, and measures the drain rate used for retry-after hints.
#ifndef TASKRING_DAEMON_SUPERVISOR_H_
#define TASKRING_DAEMON_SUPERVISOR_H_

#include <atomic>
#include <thread>

#include "daemon/engine.h"
#include "segment/segment.h"

namespace taskring::daemon {

class Supervisor {
 public:
  Supervisor(segment::Segment& seg, Engine& engine) : seg_(seg), engine_(engine) {}
  ~Supervisor() { Stop(); }
  void Start();
  void Stop();

 private:
  void Loop();
  void CheckClients();
  void UpdateDrainRate(uint64_t now_ns);

  segment::Segment& seg_;
  Engine& engine_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  uint64_t last_completed_ = 0;
  uint64_t last_rate_ns_ = 0;
  double rate_per_s_ = 0;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_SUPERVISOR_H_
