// Leases of running jobs, keyed by slot: who holds each running job and until when. A worker's
// heartbeat renews its lease; a lease past its deadline is handed back to the engine, which
// counts the run as an attempt. Owned by the engine thread.
#ifndef TASKRING_DAEMON_LEASE_TABLE_H_
#define TASKRING_DAEMON_LEASE_TABLE_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace taskring::daemon {

// Memory is O(capacity); a scan touches only the running jobs, so expiry costs nothing per
// completed job (no heap of stale deadlines to grow).
class LeaseTable {
 public:
  // Who runs the job: a lease is renewed only by the same holder.
  struct Holder {
    uint32_t gen = 0;
    uint32_t client = 0;
    uint32_t attempt = 0;
    bool operator==(const Holder&) const = default;
  };

  LeaseTable(uint32_t capacity, uint64_t lease_ns)
      : lease_ns_(lease_ns), leases_(capacity), pos_(capacity, kAbsent) {}

  // Extends `holder`'s lease of `slot` to now + the lease time, or starts it (replacing a lease
  // of another holder). True if the lease started now. `timeout_ns` (0: none), given when the
  // lease starts, is the job's execution limit: no renewal extends the lease past it.
  bool Renew(uint32_t slot, const Holder& holder, uint64_t now_mono_ns, uint64_t timeout_ns = 0) {
    Lease& l = leases_[slot];
    const bool started = pos_[slot] == kAbsent || !(l.holder == holder);
    if (started) l.limit_mono_ns = timeout_ns != 0 ? now_mono_ns + timeout_ns : UINT64_MAX;
    l.deadline_mono_ns = std::min(now_mono_ns + lease_ns_, l.limit_mono_ns);
    if (!started) return false;
    l.holder = holder;
    if (pos_[slot] == kAbsent) {
      pos_[slot] = static_cast<uint32_t>(running_.size());
      running_.push_back(slot);
    }
    return true;
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

  // Ends every lease past its deadline and calls expired(slot, holder, timed_out) for it
  // (timed_out: the job's execution limit passed, not a missing heartbeat). Scans at most
  // every kScanIntervalNs: a deadline is lease_ms away, so finer checks would buy nothing.
  void ExpireDue(uint64_t now_mono_ns,
                 const std::function<void(uint32_t, const Holder&, bool)>& expired) {
    if (now_mono_ns - last_scan_mono_ns_ < kScanIntervalNs) return;
    last_scan_mono_ns_ = now_mono_ns;
    for (size_t i = 0; i < running_.size();) {
      const uint32_t slot = running_[i];
      if (leases_[slot].deadline_mono_ns > now_mono_ns) {
        ++i;
        continue;
      }
      const Holder holder = leases_[slot].holder;
      const bool timed_out = leases_[slot].deadline_mono_ns == leases_[slot].limit_mono_ns;
      End(slot);  // moves another slot into position i
      expired(slot, holder, timed_out);
    }
  }

  size_t running() const { return running_.size(); }

  static constexpr uint64_t kScanIntervalNs = 50'000'000;

 private:
  struct Lease {
    uint64_t deadline_mono_ns = 0;
    uint64_t limit_mono_ns = UINT64_MAX;  // the job's execution limit
    Holder holder;
  };
  static constexpr uint32_t kAbsent = UINT32_MAX;
  uint64_t lease_ns_;
  uint64_t last_scan_mono_ns_ = 0;
  std::vector<Lease> leases_;
  std::vector<uint32_t> pos_;  // index into running_, or kAbsent
  std::vector<uint32_t> running_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_LEASE_TABLE_H_
