#include "client/session.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "util/clock.h"
#include "util/futex.h"
#include "util/process.h"

namespace taskring::client {

using segment::ClientEntry;
using segment::ClientState;
using segment::DaemonState;

namespace {

constexpr uint64_t kMsNs = 1'000'000;

Status ClaimEntry(const segment::Segment& seg, segment::ClientRole role, uint32_t* index,
                  const std::function<void(segment::ClientEntry*)>& prepare) {
  const pid_t pid = ::getpid();
  const uint64_t ticks = util::ProcessStartTicks(pid);
  for (uint32_t i = 0; i < seg.params().max_clients; ++i) {
    ClientEntry* e = seg.client(i);
    uint64_t expected = 0;
    if (e->owner.load(std::memory_order_relaxed) != 0) continue;
    if (!e->owner.compare_exchange_strong(expected,
                                          segment::PackClientOwner(pid, ClientState::kClaiming),
                                          std::memory_order_acq_rel)) {
      continue;
    }
    // The daemon reset the lane cursors when it freed the entry.
    e->start_ticks.store(ticks, std::memory_order_relaxed);
    e->role.store(static_cast<uint32_t>(role), std::memory_order_relaxed);
    if (prepare) prepare(e);
    e->owner.store(segment::PackClientOwner(pid, ClientState::kActive), std::memory_order_release);
    seg.header()->clients_epoch.fetch_add(1, std::memory_order_release);
    *index = i;
    return Status::OK();
  }
  return Status::Busy();
}

// One load: the kernel marks the daemon-life mutex the moment the daemon dies, so a worker never
// keeps taking jobs from a dead daemon's ring (their outcomes could not be logged).
Status DaemonAliveIn(const segment::Segment& seg) {
  const segment::SegmentHeader* h = seg.header();
  if (segment::DaemonLifeHeld(h)) return Status::OK();
  return Status::Closed("daemon for queue '" + seg.queue() + "' (pid " +
                        std::to_string(h->daemon_pid.load(std::memory_order_relaxed)) +
                        ") is not running");
}

}  // namespace

Session::Session(std::unique_ptr<segment::Segment> seg, uint32_t index)
    : seg_(std::move(seg)), index_(index), lane_(seg_->lane(index)) {}

Session::~Session() {
  ClientEntry* e = seg_->client(index_);
  e->owner.store(segment::PackClientOwner(::getpid(), ClientState::kClosing),
                 std::memory_order_release);
  seg_->header()->clients_epoch.fetch_add(1, std::memory_order_release);
  RingDoorbell();
}

Status Session::Open(const std::string& queue, segment::ClientRole role, uint32_t attach_timeout_ms,
                     uint32_t wait_for_daemon_ms, std::unique_ptr<Session>* out,
                     const std::function<void(segment::ClientEntry*)>& prepare) {
  const uint64_t start = util::NowMonoNs();
  const uint64_t absent_deadline = start + wait_for_daemon_ms * kMsNs;
  const uint64_t starting_deadline =
      start + std::max(attach_timeout_ms, wait_for_daemon_ms) * kMsNs;
  std::unique_ptr<segment::Segment> seg;
  for (;;) {
    Status s = segment::Segment::Attach(queue, /*read_only=*/false, &seg);
    if (s.ok()) {
      const auto state = static_cast<DaemonState>(seg->header()->daemon_state.load());
      if (state == DaemonState::kStarting) {
        s = Status::NotReady("daemon for queue '" + queue + "' is starting");
      } else if (state == DaemonState::kAbandoned) {
        s = Status::Closed("queue '" + queue + "' is being re-created by a newer daemon");
      } else {
        // A segment whose daemon stopped or died is as good as none: wait for the next one.
        s = state == DaemonState::kStopped || state == DaemonState::kStopping
                ? Status::Closed("daemon for queue '" + queue + "' has stopped")
                : DaemonAliveIn(*seg);
        if (s.ok()) break;
      }
    }
    const uint64_t now = util::NowMonoNs();
    const bool retry = s.IsNotReady() ? now < starting_deadline
                                      : (s.IsNotFound() || s.IsClosed()) && now < absent_deadline;
    if (!retry) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  uint32_t index = 0;
  if (!ClaimEntry(*seg, role, &index, prepare).ok()) {
    const uint32_t n = seg->params().max_clients;
    return Status::ResourceExhausted(
        "all " + std::to_string(n) + " client entries of queue '" + queue +
        "' are in use (each open Producer or Worker takes one; raise taskringd --max-clients)");
  }
  out->reset(new Session(std::move(seg), index));
  // A daemon refusing new jobs (its disk failed) is running: attach, and let each call report
  // the storage error until the disk recovers.
  const Status daemon = (*out)->CheckDaemon();
  return daemon.IsIOError() ? Status::OK() : daemon;
}

Status Session::CheckDaemon() const {
  const segment::SegmentHeader* h = seg_->header();
  const auto state = static_cast<DaemonState>(h->daemon_state.load(std::memory_order_acquire));
  switch (state) {
    case DaemonState::kRunning: break;
    case DaemonState::kStarting: return Status::NotReady("daemon is starting");
    case DaemonState::kStopping:
    case DaemonState::kStopped:
      return Status::Closed("daemon for queue '" + seg_->queue() + "' is stopped");
    case DaemonState::kRefusing:
      return Status::IOError("daemon for queue '" + seg_->queue() +
                             "' refuses new jobs: WAL storage error (see taskringd log)");
    case DaemonState::kAbandoned:
      return Status::Closed("queue '" + seg_->queue() +
                            "' was re-created by a newer daemon; reopen");
    default: return Status::Corruption("segment daemon state is invalid");
  }
  return DaemonAlive();
}

Status Session::DaemonAlive() const { return DaemonAliveIn(*seg_); }

void Session::RingDoorbell() const {
  segment::SegmentHeader* h = seg_->header();
  util::WakeIfSleepers(&h->doorbell, &h->daemon_sleeping, 1);
}

Status Session::Push(const segment::LaneRecord& rec, uint64_t* pos) {
  uint64_t last_check = 0;  // the clock is read only once the lane is full (the rare case)
  for (;;) {
    const uint64_t p = lane_.TryPush(rec);
    if (p != UINT64_MAX) {
      *pos = p;
      return Status::OK();
    }
    // Lane full: the daemon drains it within microseconds unless it is gone.
    RingDoorbell();
    sched_yield();
    const uint64_t now = util::NowMonoNs();
    if (last_check == 0) last_check = now;
    if (now - last_check > 100 * kMsNs) {
      Status s = CheckDaemon();
      if (!s.ok()) return s;
      last_check = now;
    }
  }
}

Status Session::WaitCommitted(uint64_t pos, uint32_t spins, uint32_t timeout_ms) const {
  ClientEntry* e = seg_->client(index_);
  auto done = [&] { return e->committed.load(std::memory_order_acquire) > pos; };
  if (done()) return Status::OK();
  const uint64_t deadline = util::NowMonoNs() + timeout_ms * kMsNs;
  uint32_t spin = spins;
  for (;;) {
    if (util::SpinThenWait(&e->commit_futex, &e->commit_waiters, static_cast<int>(spin),
                           100 * kMsNs, done)) {
      return Status::OK();
    }
    spin = 0;
    // The records are in the daemon's hands now. While it lives it will log them, even when
    // refusing new work (it retries the disk) or stopping (it drains lanes before exiting), so
    // keep waiting. If it is gone, the outcome is unknown: it may have logged the job just
    // before dying, and then the job runs after a restart.
    const auto state = static_cast<DaemonState>(seg_->header()->daemon_state.load());
    const bool replaced = state == DaemonState::kAbandoned;
    Status alive =
        replaced ? Status::Closed("queue was re-created by a newer daemon") : DaemonAlive();
    if (done()) return Status::OK();
    if (!alive.ok() || state == DaemonState::kStopped) {
      return Status::Closed(std::string(alive.ok() ? "daemon stopped" : alive.message()) +
                            " before confirming the job; outcome unknown: if it was logged it "
                            "runs after a restart (poll its id)");
    }
    if (util::NowMonoNs() >= deadline) {
      return Status::IOError("daemon did not confirm the job within " + std::to_string(timeout_ms) +
                             " ms (stuck disk?); outcome unknown (poll its id)");
    }
  }
}

}  // namespace taskring::client
