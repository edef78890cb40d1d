#include "metrics/snapshot.h"

#include <sys/stat.h>

#include <cstring>
#include <vector>

#include "util/clock.h"
#include "util/process.h"
#include "wal/wal_segment.h"

namespace taskring::metrics {
namespace {

using segment::DaemonState;
using segment::SlotState;

const char* StateName(uint32_t s) {
  switch (static_cast<DaemonState>(s)) {
    case DaemonState::kStarting: return "starting";
    case DaemonState::kRunning: return "running";
    case DaemonState::kStopping: return "stopping";
    case DaemonState::kStopped: return "stopped";
    case DaemonState::kRefusing: return "refusing (storage error)";
    case DaemonState::kAbandoned: return "abandoned";
  }
  return "invalid";
}

const char* DurabilityName(uint32_t d) {
  switch (static_cast<segment::Durability>(d)) {
    case segment::Durability::kFsync: return "fsync";
    case segment::Durability::kInterval: return "interval";
    case segment::Durability::kNone: return "none";
  }
  return "invalid";
}

void ScanSlots(const segment::Segment& seg, uint64_t now_unix_ns, QueueSnapshot* out) {
  uint64_t oldest = 0;
  for (uint32_t i = 0; i < seg.params().capacity; ++i) {
    segment::SlotHeader* h = seg.slot(i);
    switch (segment::SlotStateOf(h->word.load(std::memory_order_acquire))) {
      case SlotState::kQueued: {
        ++out->queued;
        ++out->queued_by_priority[std::min<uint32_t>(h->priority, segment::kPriorityLevels - 1)];
        // atomic_ref: a producer may be rewriting the slot by the time we read it.
        const uint64_t t =
            std::atomic_ref<uint64_t>(h->enqueued_unix_ns).load(std::memory_order_relaxed);
        if (t != 0 && t <= now_unix_ns && (oldest == 0 || t < oldest)) oldest = t;
        break;
      }
      case SlotState::kRunning:
      case SlotState::kCompleting:
      case SlotState::kFailing: ++out->running; break;
      case SlotState::kDelayed: ++out->delayed; break;
      default: break;
    }
  }
  out->oldest_queued_age_ns = oldest != 0 ? now_unix_ns - oldest : 0;
}

void CountClients(const segment::Segment& seg, QueueSnapshot* out) {
  for (uint32_t i = 0; i < seg.params().max_clients; ++i) {
    const segment::ClientEntry* e = seg.client(i);
    const uint64_t owner = e->owner.load(std::memory_order_acquire);
    if (segment::OwnerState(owner) != segment::ClientState::kActive) continue;
    if (!util::ProcessAlive(segment::OwnerPid(owner), e->start_ticks.load())) continue;
    const auto role = static_cast<segment::ClientRole>(e->role.load(std::memory_order_relaxed));
    out->workers += role == segment::ClientRole::kWorker;
    out->producers += role == segment::ClientRole::kProducer;
  }
}

void MeasureWal(const char* dir, QueueSnapshot* out) {
  std::vector<wal::SegmentFile> files;
  if (dir[0] == '\0' || !wal::ListSegments(dir, &files).ok()) return;
  out->wal_segments = files.size();
  for (const wal::SegmentFile& f : files) {
    struct stat st {};
    // Blocks actually used: a sparse or preallocated tail costs no disk.
    if (::stat(f.path.c_str(), &st) == 0) out->wal_disk_bytes += uint64_t(st.st_blocks) * 512;
  }
}

}  // namespace

void TakeSnapshot(const segment::Segment& seg, QueueSnapshot* out) {
  *out = QueueSnapshot();
  const segment::SegmentHeader* h = seg.header();
  out->queue = seg.queue();
  out->unix_ns = util::NowUnixNs();
  const uint32_t state = h->daemon_state.load(std::memory_order_acquire);
  const bool alive = segment::DaemonLifeHeld(h);
  out->daemon_state = alive || state == static_cast<uint32_t>(DaemonState::kStopped)
                          ? StateName(state)
                          : "dead (daemon process is gone)";
  out->up = alive && state == static_cast<uint32_t>(DaemonState::kRunning);
  out->durability = DurabilityName(h->durability);
  out->daemon_pid = h->daemon_pid.load(std::memory_order_relaxed);
  out->capacity = seg.params().capacity;
  out->max_payload = seg.params().max_payload;
  out->outstanding = h->outstanding.load(std::memory_order_relaxed);
  out->dead_letters = h->dead_letters.load(std::memory_order_relaxed);
  out->outcome_bytes = h->outcome_bytes.load(std::memory_order_relaxed);
  out->outcome_records = h->outcome_records.load(std::memory_order_relaxed);
  out->next_job_id = h->next_job_id.load(std::memory_order_relaxed);
  out->metrics_port = h->metrics_port.load(std::memory_order_relaxed);
  out->paused = h->paused.load(std::memory_order_relaxed) != 0;
  out->waiting_undeclared =
      std::min<uint64_t>(h->waiting_undeclared.load(std::memory_order_relaxed), out->capacity);
  for (uint32_t c = 0; c < segment::kCounterCount; ++c) {
    out->counters[c] = seg.Read(static_cast<segment::Counter>(c));
  }
  for (uint32_t r = 0; r < segment::kRejectReasonCount; ++r) {
    out->rejected[r] = seg.ReadRejected(static_cast<segment::RejectReason>(r));
  }
  for (uint32_t i = 0; i < segment::kHistogramCount; ++i) {
    out->histograms[i] = ReadHistogram(h->histograms[i]);
  }
  ScanSlots(seg, out->unix_ns, out);
  CountClients(seg, out);
  MeasureWal(h->wal_dir, out);  // NUL-terminated: checked on attach
}

}  // namespace taskring::metrics
