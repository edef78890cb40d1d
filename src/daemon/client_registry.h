// The engine's view of the client table: which clients are attached, how far each one's lane has
// been drained, and which drained records wait for a commit before their producers may be told
// the outcome. Clients attach and detach on their own by CAS on their entry and bump the
// segment's client epoch; the registry rescans only when that epoch moved. Owned by the engine
// thread.
#ifndef TASKRING_DAEMON_CLIENT_REGISTRY_H_
#define TASKRING_DAEMON_CLIENT_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "segment/segment.h"

namespace taskring::daemon {

class ClientRegistry {
 public:
  explicit ClientRegistry(const segment::Segment& seg);

  // Rebuilds the list of active clients if the client epoch moved (or a rescan was asked for).
  // An entry found closing is handed to release(client, owner); if that returns false (a storage
  // fault kept the client's last records from the WAL), TakeRescanRequest() says so, and the
  // engine calls Rescan() once the WAL takes writes again.
  void Refresh(const std::function<bool(uint32_t, uint64_t)>& release);
  // Forces the next Refresh to rescan every entry.
  void Rescan() { seen_epoch_ = UINT32_MAX; }
  // True once a closing client could not be released; cleared by taking it.
  bool TakeRescanRequest() { return std::exchange(rescan_requested_, false); }

  const std::vector<uint32_t>& active() const { return active_; }

  // Records that `client`'s lane was drained up to `pos`, awaiting commit.
  void Drained(uint32_t client, uint64_t pos);
  bool AnyDrained() const { return !touched_.empty(); }
  // After a commit: publishes each drained lane's committed cursor and wakes producers waiting
  // on it.
  void PublishCommitted();

  // Pipelined commit: the lanes drained so far, as one group whose records are being synced.
  using Group = std::vector<std::pair<uint32_t, uint64_t>>;  // client, drained position
  // Takes the drained positions so far as a group; later drains start the next one.
  Group Seal();
  // The group's sync is done: publishes its positions and wakes its producers.
  void PublishCommitted(const Group& group);
  // The group's sync failed: its positions wait for the next commit again.
  void Unseal(const Group& group);
  // The client's entry is being freed: its lane restarts from 0.
  void Forget(uint32_t client) { lane_consumed_[client] = 0; }

  // Records waiting in an active client's lane, or a client attached or left since Refresh.
  bool AnyPending() const;

 private:
  const segment::Segment& seg_;
  std::vector<uint32_t> active_;
  uint32_t seen_epoch_ = UINT32_MAX;
  bool rescan_requested_ = false;
  std::vector<uint64_t> lane_consumed_;  // per client: lane position drained, awaiting commit
  std::vector<uint32_t> touched_;        // lanes drained since the last PublishCommitted
  std::vector<uint8_t> touched_flag_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_CLIENT_REGISTRY_H_
