#include "daemon/supervisor.h"

#include <signal.h>

#include <cerrno>
#include <chrono>

#include "util/clock.h"
#include "util/process.h"

namespace taskring::daemon {

void Supervisor::Start() {
  last_completed_ = seg_.Read(segment::Counter::kCompleted) + seg_.Read(segment::Counter::kDead);
  last_rate_ns_ = util::NowMonoNs();
  thread_ = std::thread([this] { Loop(); });
}

void Supervisor::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void Supervisor::Loop() {
  while (!stop_.load()) {
    const uint64_t now = util::NowMonoNs();
    CheckClients();
    UpdateDrainRate(now);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Supervisor::CheckClients() {
  for (uint32_t i = 0; i < seg_.params().max_clients; ++i) {
    segment::ClientEntry* e = seg_.client(i);
    const uint64_t owner = e->owner.load(std::memory_order_acquire);
    if (owner == 0) continue;
    const pid_t pid = segment::OwnerPid(owner);
    bool alive = false;
    if (segment::OwnerState(owner) == segment::ClientState::kClaiming) {
      // Start time is not recorded yet: existence of the pid is all we can check.
      alive = pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
    } else {
      alive = util::ProcessAlive(pid, e->start_ticks.load(std::memory_order_relaxed));
    }
    if (!alive) engine_.Post(Command{Command::Kind::kClientGone, i, owner});
  }
}

void Supervisor::UpdateDrainRate(uint64_t now_ns) {
  const uint64_t done =
      seg_.Read(segment::Counter::kCompleted) + seg_.Read(segment::Counter::kDead);
  const double dt = static_cast<double>(now_ns - last_rate_ns_) / 1e9;
  if (dt < 0.5) return;
  const double instant = static_cast<double>(done - last_completed_) / dt;
  // EWMA over ~5 s: steady enough for a hint, quick enough to follow a stalled queue down.
  rate_per_s_ = rate_per_s_ == 0 ? instant : 0.8 * rate_per_s_ + 0.2 * instant;
  last_completed_ = done;
  last_rate_ns_ = now_ns;
  seg_.header()->drain_rate_milli.store(static_cast<uint64_t>(rate_per_s_ * 1000.0),
                                        std::memory_order_relaxed);
}

}  // namespace taskring::daemon
