#include "daemon/wal_retention.h"

#include <algorithm>

#include "daemon/log.h"
#include "wal/wal_segment.h"

namespace taskring::daemon {

namespace {
constexpr uint64_t kRelogIntervalNs = 1'000'000'000;
constexpr uint64_t kRetryIntervalNs = 1'000'000'000;
}  // namespace

void WalRetention::Pin(uint32_t slot, uint64_t segment) {
  Unpin(slot);
  job_segment_[slot] = segment;
  ++pins_[segment];
}

void WalRetention::Unpin(uint32_t slot) {
  const uint64_t segment = job_segment_[slot];
  if (segment == 0) return;
  job_segment_[slot] = 0;
  auto it = pins_.find(segment);
  if (it != pins_.end() && --it->second == 0) pins_.erase(it);
}

void WalRetention::UnpinAll() {
  pins_.clear();
  std::fill(job_segment_.begin(), job_segment_.end(), 0);
}

uint64_t WalRetention::SegmentToRelog(uint64_t current_segment, uint64_t now_mono_ns) {
  if (current_segment < oldest_ + 2 || now_mono_ns - last_relog_mono_ns_ < kRelogIntervalNs) {
    return 0;
  }
  if (!pins_.count(oldest_)) return 0;
  last_relog_mono_ns_ = now_mono_ns;
  return oldest_;
}

uint64_t WalRetention::Deletable(uint64_t current_segment) const {
  if (wal_dir_.empty()) return 0;
  uint64_t n = 0;
  for (uint64_t s = oldest_; s < current_segment && !pins_.count(s); ++s) ++n;
  return n;
}

bool WalRetention::CollectionDue(uint64_t current_segment, uint64_t now_mono_ns) const {
  if (now_mono_ns < retry_after_mono_ns_) return false;
  return sync_pending_ || Deletable(current_segment) != 0;
}

void WalRetention::DeleteBefore(uint64_t segment, uint64_t now_mono_ns) {
  const Status s = wal::DeleteSegmentsBefore(env_, wal_dir_, segment, &oldest_);
  // Logged when it starts failing and when it works again, not every retry.
  if (s.ok() && sync_pending_) LogEvent("WAL: deleting old segments works again");
  if (!s.ok() && !sync_pending_) {
    LogEvent("WAL: %s; retrying every second", s.ToString().c_str());
  }
  sync_pending_ = !s.ok();
  if (!s.ok()) retry_after_mono_ns_ = now_mono_ns + kRetryIntervalNs;
}

}  // namespace taskring::daemon
