// A queue's recent past for the pages' charts: every 2 s the gateway samples each served queue
// (depth, counter rates, latency quantiles over the interval) into a fixed ring of 300 samples
// (10 minutes). Memory is bounded: 300 samples per served queue, whatever the uptime.
// Thread-safe (the sampler writes on an io thread, requests read on any).
#ifndef TASKRING_HTTP_HISTORY_H_
#define TASKRING_HTTP_HISTORY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "http/job_json.h"
#include "metrics/snapshot.h"

namespace taskring::http {

struct HistorySample {
  uint64_t unix_ms = 0;
  uint64_t depth = 0;
  uint64_t running = 0;
  double accepted_per_s = 0, completed_per_s = 0, failed_per_s = 0;
  // Over the interval since the previous sample; 0 when no job finished in it.
  double wait_p50_ms = 0, wait_p99_ms = 0, e2e_p50_ms = 0, e2e_p99_ms = 0;
};

// The histogram of what was recorded between `before` and `now` (cumulative buckets both). A
// counter that went backwards (a daemon restart) counts from zero.
metrics::HistogramSnapshot HistogramSince(const metrics::HistogramSnapshot& now,
                                          const metrics::HistogramSnapshot& before);

class History {
 public:
  static constexpr size_t kCapacity = 300;  // 10 minutes at one sample per 2 s
  static constexpr uint32_t kIntervalMs = 2000;

  // Adds the sample that `snap` makes with the previous one (the first only sets the base).
  void Add(const metrics::QueueSnapshot& snap);
  // Forgets the base, after the queue's daemon changed (its counters restart from zero).
  void Rebase();
  // {"interval_ms": 2000, "samples": [{t, depth, running, accepted_per_s, ...}, ...]}, oldest
  // first, at most `limit` of the newest.
  Json ToJson(size_t limit = kCapacity) const;

 private:
  mutable std::mutex mu_;
  std::array<HistorySample, kCapacity> ring_{};
  size_t next_ = 0;  // where the next sample goes
  size_t size_ = 0;
  bool has_base_ = false;
  metrics::QueueSnapshot base_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_HISTORY_H_
