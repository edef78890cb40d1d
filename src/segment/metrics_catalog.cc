#include "segment/metrics_catalog.h"

#include <iterator>

namespace taskring::segment {
namespace {

const char* const kCounterNames[] = {
    "accepted",    "completed",       "failed",          "retried",          "dead",
    "redelivered", "stale_acks",      "leases_expired",  "wal_bytes",        "wal_fsyncs",
    "wal_records", "dead_evicted",    "dedup_hits",      "dedup_evicted",    "timeouts",
    "cancelled",   "cancel_requests", "outcomes_stored", "outcomes_evicted", "outcomes_expired",
};
static_assert(std::size(kCounterNames) == kCounterCount, "one label per counter");
const char* const kRejectReasonNames[] = {"busy", "too_large", "storage", "stopped"};
static_assert(std::size(kRejectReasonNames) == kRejectReasonCount, "one label per reason");
const char* const kHistogramNames[] = {"job_wait", "job_run", "job_latency", "wal_fsync"};
static_assert(std::size(kHistogramNames) == kHistogramCount, "one label per histogram");

}  // namespace

const char* CounterName(Counter c) {
  const auto i = static_cast<uint32_t>(c);
  return i < kCounterCount ? kCounterNames[i] : "unknown";
}

const char* RejectReasonName(RejectReason r) {
  const auto i = static_cast<uint32_t>(r);
  return i < kRejectReasonCount ? kRejectReasonNames[i] : "unknown";
}

const char* HistogramName(Histogram h) {
  const auto i = static_cast<uint32_t>(h);
  return i < kHistogramCount ? kHistogramNames[i] : "unknown";
}

}  // namespace taskring::segment
