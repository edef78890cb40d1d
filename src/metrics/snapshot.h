// One consistent-enough reading of a queue's numbers, straight from its segment: what the
// Prometheus exporter serves and what `taskring stat` prints. Read-only; works whether or not
// the daemon (or its HTTP endpoint) is up.
#ifndef TASKRING_METRICS_SNAPSHOT_H_
#define TASKRING_METRICS_SNAPSHOT_H_

#include <array>
#include <cstdint>
#include <string>

#include "metrics/histogram.h"
#include "segment/segment.h"

namespace taskring::metrics {

struct QueueSnapshot {
  std::string queue;
  const char* daemon_state = "";  // "running", "refusing (storage error)", "dead ...", ...
  const char* durability = "";    // "fsync", "interval", "none"
  bool up = false;                // daemon alive and admitting
  int32_t daemon_pid = 0;
  uint64_t unix_ns = 0;  // when taken

  uint64_t capacity = 0;
  uint64_t max_payload = 0;
  uint64_t outstanding = 0;  // accepted, not terminal
  // From one scan of the job slots:
  uint64_t queued = 0;   // ready, waiting for a worker (the queue depth)
  uint64_t running = 0;  // leased to a worker (includes reporting an outcome)
  uint64_t delayed = 0;  // waiting for a retry backoff or a requested delay
  uint64_t oldest_queued_age_ns = 0;
  std::array<uint64_t, segment::kPriorityLevels> queued_by_priority{};
  bool paused = false;              // QueueControl::Pause: nothing is handed out
  uint64_t waiting_undeclared = 0;  // queued typed jobs no live worker declares
  uint64_t workers = 0;             // live worker / producer processes attached
  uint64_t producers = 0;
  uint64_t dead_letters = 0;
  uint64_t wal_segments = 0;
  uint64_t wal_disk_bytes = 0;
  uint64_t outcome_bytes = 0;    // the outcome store (DIR/outcomes): its size on disk
  uint64_t outcome_records = 0;  // and the records it holds (superseded ones included)
  uint64_t next_job_id = 0;
  uint32_t metrics_port = 0;

  std::array<uint64_t, segment::kCounterCount> counters{};
  std::array<uint64_t, segment::kRejectReasonCount> rejected{};
  std::array<HistogramSnapshot, segment::kHistogramCount> histograms{};

  uint64_t counter(segment::Counter c) const { return counters[static_cast<uint32_t>(c)]; }
  const HistogramSnapshot& histogram(segment::Histogram h) const {
    return histograms[static_cast<uint32_t>(h)];
  }
};

// Reads everything; the slot scan is O(capacity). Never fails on a validated segment: values
// that a scribbling process could have made absurd are clamped, not trusted.
void TakeSnapshot(const segment::Segment& seg, QueueSnapshot* out);

}  // namespace taskring::metrics

#endif  // TASKRING_METRICS_SNAPSHOT_H_
