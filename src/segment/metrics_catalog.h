// Every metric the segment holds, in one place: the built-in counters, the refusal reasons
// counted per client, and the latency histograms, each an enum with its label table (checked
// to be as long as the enum, as Aeron's system counters are) and the cells they live in.
// `taskring stat` and the Prometheus exporter list them from here.
#ifndef TASKRING_SEGMENT_METRICS_CATALOG_H_
#define TASKRING_SEGMENT_METRICS_CATALOG_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "segment/cache_line.h"

namespace taskring::segment {

// Built-in counters, one cache line each. Written with relaxed fetch_add by whichever process
// does the work; read by `taskring stats` and the exporter.
enum class Counter : uint32_t {
  kAccepted = 0,
  kCompleted,
  kFailed,
  kRetried,
  kDead,
  kRedelivered,
  kStaleAcks,
  kLeasesExpired,
  kWalBytes,
  kWalFsyncs,
  kWalRecords,
  kDeadEvicted,      // dead letters removed, oldest first, to stay within --dead-max
  kDedupHits,        // enqueues answered with an earlier job's id (idempotency key seen)
  kDedupEvicted,     // keys forgotten before their window ended, to stay within --dedup-max
  kTimeouts,         // attempts that ran past their job's timeout
  kCancelled,        // jobs cancelled before they ran (queue purge, cancel by id)
  kCancelRequests,   // cancels asked of running jobs (their handlers decide)
  kOutcomesStored,   // outcome records written (terminal states, failed attempts)
  kOutcomesEvicted,  // outcomes dropped before --result-ttl, to stay within --result-max-mb
  kOutcomesExpired,  // outcomes dropped after --result-ttl
  kCount,
};
inline constexpr uint32_t kCounterCount = static_cast<uint32_t>(Counter::kCount);
const char* CounterName(Counter c);  // snake_case label, e.g. "accepted"

struct alignas(kCacheLine) CounterCell {
  std::atomic<uint64_t> value;
};
static_assert(sizeof(CounterCell) == kCacheLine);
static_assert(offsetof(CounterCell, value) == 0);

// Why a producer was refused. Counted per client (see ClientEntry::rejected): a full queue
// under load makes every producer count at once, and one shared line would bounce between them.
enum class RejectReason : uint32_t { kBusy = 0, kTooLarge, kStorage, kStopped, kCount };
inline constexpr uint32_t kRejectReasonCount = static_cast<uint32_t>(RejectReason::kCount);
const char* RejectReasonName(RejectReason r);  // "busy", "too_large", "storage", "stopped"

// Latency histograms, recorded by the daemon's engine thread only (a single writer: plain
// relaxed stores, no read-modify-write), read by anyone. Buckets are Prometheus "le" bounds.
enum class Histogram : uint32_t { kJobWait = 0, kJobRun, kJobLatency, kWalFsync, kCount };
inline constexpr uint32_t kHistogramCount = static_cast<uint32_t>(Histogram::kCount);
const char* HistogramName(Histogram h);  // "job_wait", "job_run", "job_latency", "wal_fsync"

// Fixed log-spaced buckets from 1 us to 60 s (1-2.5-5 per decade), the same bounds for every
// histogram, so a dashboard can compare them. Upper bounds in ns ("le"); a sample above the
// last lands in the +Inf bucket.
inline constexpr uint32_t kHistogramBuckets = 24;
inline constexpr std::array<uint64_t, kHistogramBuckets> kBucketBoundsNs = {
    1'000,         2'500,         5'000,         10'000,         25'000,         50'000,
    100'000,       250'000,       500'000,       1'000'000,      2'500'000,      5'000'000,
    10'000'000,    25'000'000,    50'000'000,    100'000'000,    250'000'000,    500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 25'000'000'000, 60'000'000'000,
};

struct alignas(kCacheLine) HistogramCells {
  std::atomic<uint64_t> bucket[kHistogramBuckets + 1];  // non-cumulative; last = above 60 s
  std::atomic<uint64_t> sum_ns;
};
static_assert(sizeof(HistogramCells) == 4 * kCacheLine);
static_assert(offsetof(HistogramCells, bucket) == 0);
static_assert(offsetof(HistogramCells, sum_ns) == 200);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_METRICS_CATALOG_H_
