// Daemon-side bookkeeping of jobs that are not in a ring: leased jobs (running, with a
// heartbeat deadline) and delayed jobs (waiting for a run time). Owned by the engine thread.
#ifndef TASKRING_DAEMON_SCHEDULE_H_
#define TASKRING_DAEMON_SCHEDULE_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace taskring::daemon {

// Leases of running jobs, keyed by slot. Memory is O(capacity); a scan touches only the running
// jobs, so expiry costs nothing per completed job (no heap of stale deadlines to grow).
class LeaseTable {
 public:
  struct Lease {
    uint64_t deadline_mono_ns = 0;
    uint32_t gen = 0;
    uint32_t client = 0;
    uint32_t attempt = 0;
  };

  explicit LeaseTable(uint32_t capacity) : leases_(capacity), pos_(capacity, kAbsent) {}

  void Start(uint32_t slot, const Lease& lease) {
    leases_[slot] = lease;
    if (pos_[slot] == kAbsent) {
      pos_[slot] = static_cast<uint32_t>(running_.size());
      running_.push_back(slot);
    }
  }
  // The lease of `slot` if it is tracked and matches the token; nullptr otherwise.
  Lease* Find(uint32_t slot, uint32_t gen, uint32_t client, uint32_t attempt) {
    if (pos_[slot] == kAbsent) return nullptr;
    Lease& l = leases_[slot];
    return l.gen == gen && l.client == client && l.attempt == attempt ? &l : nullptr;
  }
  void End(uint32_t slot) {
    const uint32_t p = pos_[slot];
    if (p == kAbsent) return;
    const uint32_t last = running_.back();
    running_[p] = last;
    pos_[last] = p;
    running_.pop_back();
    pos_[slot] = kAbsent;
  }
  // Calls expired(slot, lease) for every lease past its deadline, after removing it.
  void ExpireDue(uint64_t now_mono_ns, const std::function<void(uint32_t, const Lease&)>& expired) {
    for (size_t i = 0; i < running_.size();) {
      const uint32_t slot = running_[i];
      if (leases_[slot].deadline_mono_ns > now_mono_ns) {
        ++i;
        continue;
      }
      const Lease lease = leases_[slot];
      End(slot);  // moves another slot into position i
      expired(slot, lease);
    }
  }
  size_t running() const { return running_.size(); }

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;
  std::vector<Lease> leases_;
  std::vector<uint32_t> pos_;  // index into running_, or kAbsent
  std::vector<uint32_t> running_;
};

// Delayed jobs by run time. Each delayed slot has exactly one entry, so the heap is bounded by
// the capacity.
class DelayQueue {
 public:
  struct Entry {
    uint64_t due_unix_ns;
    uint32_t slot;
    uint32_t gen;
    bool operator>(const Entry& o) const { return due_unix_ns > o.due_unix_ns; }
  };
  void Push(const Entry& e) { heap_.push(e); }
  bool PopDue(uint64_t now_unix_ns, Entry* out) {
    if (heap_.empty() || heap_.top().due_unix_ns > now_unix_ns) return false;
    *out = heap_.top();
    heap_.pop();
    return true;
  }
  size_t size() const { return heap_.size(); }

 private:
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_SCHEDULE_H_
