// A client's attachment to a queue: the mapped segment plus one claimed client entry and its
// lane. Shared by Producer and Worker. Not thread-safe (the lane is single-producer).
#ifndef TASKRING_CLIENT_SESSION_H_
#define TASKRING_CLIENT_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "segment/segment.h"
#include "taskring/status.h"

namespace taskring::client {

class Session {
 public:
  // Attaches to `queue` and claims a client entry for `role`. Waits up to attach_timeout_ms
  // while the daemon starts (then NotReady), and up to wait_for_daemon_ms while no daemon runs
  // (then NotFound or Closed). ResourceExhausted when every client entry is taken.
  // `prepare`, if given, fills in the entry before it is published as active (a worker's type
  // declaration: the daemon must never see it as a worker of every type for a moment).
  static Status Open(const std::string& queue, segment::ClientRole role, uint32_t attach_timeout_ms,
                     uint32_t wait_for_daemon_ms, std::unique_ptr<Session>* out,
                     const std::function<void(segment::ClientEntry*)>& prepare = {});
  ~Session();  // marks the entry closing; the daemon drains and frees it

  const segment::Segment& seg() const { return *seg_; }
  uint32_t index() const { return index_; }

  // OK while the daemon is alive and admitting; Closed/IOError with a clear reason otherwise.
  // Cheap enough for every call: a few loads, no syscall.
  Status CheckDaemon() const;

  // Pushes a record to the lane, waiting (bounded by the daemon's liveness) while it is full.
  // Returns its lane position.
  Status Push(const segment::LaneRecord& rec, uint64_t* pos);
  // Wakes the daemon if it sleeps. Costs no syscall when it is busy.
  void RingDoorbell() const;
  // Waits until the daemon has committed every lane record up to and including `pos`. Closed
  // if the daemon went away first, IOError after timeout_ms: either way the outcome is unknown.
  Status WaitCommitted(uint64_t pos, uint32_t spins, uint32_t timeout_ms) const;
  // The daemon's answer to the record at `pos` (segment::kAnswered), read after WaitCommitted
  // and before the next Push.
  segment::LaneRecord ReadAnswer(uint64_t pos) const { return lane_.Read(pos); }

 private:
  Session(std::unique_ptr<segment::Segment> seg, uint32_t index);
  Status DaemonAlive() const;

  std::unique_ptr<segment::Segment> seg_;
  uint32_t index_;
  segment::LaneView lane_;
};

}  // namespace taskring::client

#endif  // TASKRING_CLIENT_SESSION_H_
