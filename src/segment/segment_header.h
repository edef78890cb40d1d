// The shared-memory segment of one queue: its header, the region layout computed from its
// parameters, and the validation every attacher runs before trusting either.
//
// One POSIX shared-memory object per queue, /dev/shm/taskring.<queue> (queue_names.h), created
// by taskringd. Everything is addressed by offsets recorded in the header (never raw pointers),
// so every process may map it at a different address. Any attached process can scribble on it:
// readers validate the header on attach and bounds-check every index they read from it
// afterwards.
//
//   offset 0  +---------------------------------------------+
//             | SegmentHeader (4 KiB)                       |  magic, layout version (written
//             |   parameters, region offsets/sizes,         |  last), capacity, payload size,
//             |   daemon pid and state, life mutex,         |  daemon identity, doorbell futex,
//             |   doorbell futex, next job id, histograms   |  id allocator (this file)
//             +---------------------------------------------+
//             | Counters: kCounterCount x 64 B              |  one cache line per counter
//             |                                             |  (metrics_catalog.h)
//             +---------------------------------------------+
//             | Clients: max_clients x ClientEntry (320 B)  |  one per attached producer/worker
//             |                                             |  (client_table.h)
//             +---------------------------------------------+
//             | Lanes: max_clients x lane_capacity x 16 B   |  SPSC client -> daemon records
//             |                                             |  (lane.h)
//             +---------------------------------------------+
//             | Free stack: header + ring_capacity x 8 B    |  LIFO: free job slots (admission)
//             +---------------------------------------------+  (free_stack.h)
//             | Dispatch rings: 10 x (RingHeader + cells)   |  MPMC: jobs ready for workers,
//             +---------------------------------------------+  one ring per priority (ring.h)
//             | Status table: status_entries x 32 B         |  job id -> state, slot, secret
//             |                                             |  (status_table.h)
//             +---------------------------------------------+
//             | Slot headers: capacity x 64 B               |  SlotHeader, dense (slot.h)
//             | Payloads: capacity x payload_stride         |  each job's bytes, then its meta
//             |                                             |  (type, key, headers: job_meta.h)
//             +---------------------------------------------+
//             | Slot extras: capacity x 128 B               |  token secret, progress, cancel
//             |                                             |  request (slot.h SlotExtra)
//             +---------------------------------------------+
//             | Result buffers: max_clients x result_stride |  a worker's result or error on
//             |                                             |  its way to the daemon
//             +---------------------------------------------+
//             | Outcome index: entries x 16 B               |  job id -> outcome record in
//             |                                             |  DIR/outcomes (outcome_index.h)
//             +---------------------------------------------+
//
// Each region starts on a 4 KiB boundary. Every struct placed in the segment pins its size and
// field offsets with static_asserts, so changing the bytes is a compile error until the asserts
// and kLayoutVersion are updated together.
//
// Ownership: the daemon creates the segment and is the only writer of the header (but for the
// id allocator and doorbell), the only pusher of the free and dispatch rings, and the only
// consumer of lanes. Producers pop the free ring and push their lane; workers pop the dispatch
// ring and push their lane. A slot's state word is the single authority on who owns a job;
// ring entries are hints validated against it (see docs/architecture.md).
#ifndef TASKRING_SEGMENT_SEGMENT_HEADER_H_
#define TASKRING_SEGMENT_SEGMENT_HEADER_H_

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "segment/cache_line.h"
#include "segment/metrics_catalog.h"
#include "segment/queue_names.h"
#include "taskring/status.h"

namespace taskring::segment {

inline constexpr uint64_t kMagic = 0x474E49524B534154ULL;  // "TASKRING" little-endian
// Bumped on any incompatible change of the segment's bytes (any struct in the diagram above).
// 0 in the header means "not ready yet".
inline constexpr uint32_t kLayoutVersion = 10;
inline constexpr size_t kHeaderBytes = 4096;
// Dispatch rings: one per priority (taskring/options.h kMinPriority..kMaxPriority).
inline constexpr uint32_t kPriorityLevels = 10;

// Limits checked both at creation and on attach, so a corrupt header cannot make a reader
// compute a huge or overflowing region.
inline constexpr uint32_t kMaxCapacity = 1u << 24;
inline constexpr uint32_t kMaxPayload = 16u << 20;
inline constexpr uint32_t kMaxClients = 4096;
inline constexpr uint32_t kMaxLaneCapacity = 1u << 16;
inline constexpr uint64_t kMaxSegmentBytes = 64ULL << 30;
inline constexpr size_t kMaxWalDir = 1024;  // with its NUL
inline constexpr uint32_t kMaxResult = 16u << 20;
inline constexpr uint32_t kMaxOutcomeIndexEntries = 1u << 26;
// outcome/outcome_index.h OutcomeIndexEntry (asserted there).
inline constexpr uint64_t kOutcomeIndexEntryBytes = 16;

enum class Durability : uint32_t { kFsync = 0, kInterval = 1, kNone = 2 };

// Daemon lifecycle as seen by clients.
enum class DaemonState : uint32_t {
  kStarting = 0,   // recovering; producers wait
  kRunning = 1,    // admitting
  kStopping = 2,   // SIGTERM received: no new admissions, finishing in-flight work
  kStopped = 3,    // exited cleanly
  kRefusing = 4,   // storage fault: no new admissions until the disk recovers
  kAbandoned = 5,  // a newer daemon replaced this segment; re-attach by name
};

// Parameters fixed at creation; everything else in the layout is derived from them.
struct Params {
  uint32_t capacity = 0;       // max outstanding jobs (= job slots)
  uint32_t max_payload = 0;    // bytes per job payload
  uint32_t max_clients = 0;    // attached producer/worker processes at once
  uint32_t lane_capacity = 0;  // records per client lane, power of two
  uint32_t max_result = 0;     // bytes of a job's result (a worker's result buffer)
  // Entries of the outcome index (outcome/outcome_index.h), a power of two; 0 = no index.
  uint32_t outcome_index_entries = 0;
};
static_assert(sizeof(Params) == 24);
static_assert(offsetof(Params, capacity) == 0);
static_assert(offsetof(Params, max_payload) == 4);
static_assert(offsetof(Params, max_clients) == 8);
static_assert(offsetof(Params, lane_capacity) == 12);
static_assert(offsetof(Params, max_result) == 16);
static_assert(offsetof(Params, outcome_index_entries) == 20);

// Region offsets and sizes, a pure function of Params (ComputeLayout). The creator records it in
// the header; an attacher recomputes it from the recorded Params and refuses any mismatch.
struct Layout {
  uint32_t ring_capacity = 0;   // power of two >= capacity
  uint32_t status_entries = 0;  // power of two >= 4 * capacity
  uint32_t payload_stride = 0;  // max payload rounded to a cache line
  uint64_t counters_offset = 0;
  uint64_t clients_offset = 0;
  uint64_t lanes_offset = 0;
  uint64_t free_stack_offset = 0;
  uint64_t dispatch_ring_offset =
      0;  // the first of kPriorityLevels rings, dispatch_ring_stride apart
  uint64_t status_offset = 0;
  uint64_t slots_offset = 0;
  uint64_t total_bytes = 0;
  uint64_t dispatch_ring_stride = 0;
  uint64_t payloads_offset = 0;  // after the slot headers
  uint64_t extras_offset = 0;    // capacity x SlotExtra: token, progress, cancel (slot.h)
  uint64_t results_offset = 0;   // max_clients x result_stride: results on their way in
  uint64_t outcome_index_offset = 0;
  uint32_t result_stride = 0;  // a client's result buffer: max(max_result, 2 KiB) rounded to 4 KiB
  uint32_t reserved = 0;
  bool operator==(const Layout&) const = default;
};
static_assert(sizeof(Layout) == 128);
static_assert(offsetof(Layout, ring_capacity) == 0);
static_assert(offsetof(Layout, status_entries) == 4);
static_assert(offsetof(Layout, payload_stride) == 8);
static_assert(offsetof(Layout, counters_offset) == 16);
static_assert(offsetof(Layout, clients_offset) == 24);
static_assert(offsetof(Layout, lanes_offset) == 32);
static_assert(offsetof(Layout, free_stack_offset) == 40);
static_assert(offsetof(Layout, dispatch_ring_offset) == 48);
static_assert(offsetof(Layout, status_offset) == 56);
static_assert(offsetof(Layout, slots_offset) == 64);
static_assert(offsetof(Layout, total_bytes) == 72);
static_assert(offsetof(Layout, dispatch_ring_stride) == 80);
static_assert(offsetof(Layout, payloads_offset) == 88);
static_assert(offsetof(Layout, extras_offset) == 96);
static_assert(offsetof(Layout, results_offset) == 104);
static_assert(offsetof(Layout, outcome_index_offset) == 112);
static_assert(offsetof(Layout, result_stride) == 120);

// The slot headers come first, dense, so the daemon (which reads only headers) touches one
// cache line per job wherever the payloads are: interleaved with 4 KiB payloads, every header
// was on a page of its own. The payloads follow, from slots_offset + SlotHeadersBytes.
inline uint64_t SlotHeadersBytes(uint32_t capacity) {
  return (uint64_t{capacity} * 64 + 4095) / 4096 * 4096;
}

// Checks limits and derives the layout. InvalidArgument names the offending parameter.
Status ComputeLayout(const Params& params, Layout* out);

struct alignas(kCacheLine) SegmentHeader {
  // --- identity: immutable after ready ---
  uint64_t magic;
  std::atomic<uint32_t> layout_version;  // release-stored last: 0 = not ready
  uint32_t header_bytes;
  uint64_t segment_bytes;
  Params params;
  Layout layout;
  uint32_t durability;  // Durability
  uint32_t default_max_attempts;
  uint32_t lease_ms;          // a taken job is revoked this long after its last heartbeat
  uint32_t retry_backoff_ms;  // base of the exponential backoff between failed attempts
  uint64_t incarnation;       // random per creation; clients detect a replaced segment
  uint64_t created_unix_ns;
  char queue_name[kMaxQueueName];
  char wal_dir[kMaxWalDir];  // absolute; lets `taskring dead` find the dead letters
  // --- daemon liveness (daemon writes) ---
  alignas(kCacheLine) std::atomic<int32_t> daemon_pid;
  std::atomic<uint32_t> daemon_state;      // DaemonState
  std::atomic<uint64_t> drain_rate_milli;  // completions per 1000 s (EWMA), for retry-after
  std::atomic<uint64_t> outstanding;       // accepted, not terminal (daemon's view)
  std::atomic<uint64_t> dead_letters;      // stored in WAL_DIR/dead (rescanned every few s)
  std::atomic<uint32_t> metrics_port;      // the exporter's TCP port, 0 when off
  // --- daemon doorbell: producers ring it after pushing to a lane ---
  alignas(kCacheLine) std::atomic<uint32_t> doorbell;  // futex word
  std::atomic<uint32_t> daemon_sleeping;               // >0 while the daemon may sleep
  // Bumped by a client after it claims or releases an entry, so the daemon rescans the table
  // only when it changed.
  std::atomic<uint32_t> clients_epoch;
  // --- job id allocator (producers fetch_add) ---
  alignas(kCacheLine) std::atomic<uint64_t> next_job_id;
  // --- daemon life: a robust, process-shared mutex the daemon locks for its whole life. When
  // the daemon dies, however it dies, the kernel marks it OWNER_DIED, so clients see the death
  // at once and without PID-reuse doubt (DaemonLifeHeld, daemon_life.h). ---
  alignas(kCacheLine) pthread_mutex_t daemon_life;
  HistogramCells histograms[kHistogramCount];
  // --- routing and queue control (daemon writes) ---
  // Bit p set: ring p has been pushed to, so workers scan it (high priorities first). Only bits
  // ever used are scanned, so a queue of one priority costs one ring per take.
  alignas(kCacheLine) std::atomic<uint32_t> priorities_in_use;
  std::atomic<uint32_t> paused;  // 1: the daemon hands out nothing (QueueControl::Pause)
  uint32_t default_timeout_ms;   // immutable after ready: --job-timeout-ms
  uint32_t reserved0;
  std::atomic<uint64_t> waiting_undeclared;  // queued typed jobs no live worker declares
  // Workers that found every ring empty sleep here; the daemon wakes them after pushing.
  alignas(kCacheLine) std::atomic<uint32_t> dispatch_futex;
  std::atomic<uint32_t> dispatch_sleepers;
  // Bumped (and woken) by the daemon after jobs reach a terminal state while outcome_waiters >
  // 0: what JobClient::Wait sleeps on.
  alignas(kCacheLine) std::atomic<uint32_t> outcome_futex;
  std::atomic<uint32_t> outcome_waiters;
  std::atomic<uint64_t> outcome_bytes;    // the outcome store's size on disk (gauge)
  std::atomic<uint64_t> outcome_records;  // and the records it holds
  // Immutable after ready: --result-ttl. Readers treat an outcome older than this as expired
  // even before the store deletes its file (it deletes whole files).
  uint64_t result_ttl_ns;
  // Immutable after ready: no job id below this was ever handed out for this WAL directory
  // (its creation time in us, or 1 for a directory from before ids came from the clock), so a
  // lower id reads "never enqueued" rather than "expired".
  uint64_t first_job_id;
};
static_assert(sizeof(SegmentHeader) <= kHeaderBytes);
static_assert(sizeof(SegmentHeader) == 2816);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, header_bytes) == 12);
static_assert(offsetof(SegmentHeader, segment_bytes) == 16);
static_assert(offsetof(SegmentHeader, params) == 24);
static_assert(offsetof(SegmentHeader, layout) == 48);
static_assert(offsetof(SegmentHeader, durability) == 176);
static_assert(offsetof(SegmentHeader, default_max_attempts) == 180);
static_assert(offsetof(SegmentHeader, lease_ms) == 184);
static_assert(offsetof(SegmentHeader, retry_backoff_ms) == 188);
static_assert(offsetof(SegmentHeader, incarnation) == 192);
static_assert(offsetof(SegmentHeader, created_unix_ns) == 200);
static_assert(offsetof(SegmentHeader, queue_name) == 208);
static_assert(offsetof(SegmentHeader, wal_dir) == 272);
static_assert(offsetof(SegmentHeader, daemon_pid) == 1344);
static_assert(offsetof(SegmentHeader, daemon_state) == 1348);
static_assert(offsetof(SegmentHeader, drain_rate_milli) == 1352);
static_assert(offsetof(SegmentHeader, outstanding) == 1360);
static_assert(offsetof(SegmentHeader, dead_letters) == 1368);
static_assert(offsetof(SegmentHeader, metrics_port) == 1376);
static_assert(offsetof(SegmentHeader, doorbell) == 1408);
static_assert(offsetof(SegmentHeader, daemon_sleeping) == 1412);
static_assert(offsetof(SegmentHeader, clients_epoch) == 1416);
static_assert(offsetof(SegmentHeader, next_job_id) == 1472);
static_assert(offsetof(SegmentHeader, daemon_life) == 1536);
static_assert(sizeof(pthread_mutex_t) <= kCacheLine);  // 40 B on x86-64, 48 B on aarch64
static_assert(offsetof(SegmentHeader, histograms) == 1600);
static_assert(offsetof(SegmentHeader, priorities_in_use) == 2624);
static_assert(offsetof(SegmentHeader, paused) == 2628);
static_assert(offsetof(SegmentHeader, default_timeout_ms) == 2632);
static_assert(offsetof(SegmentHeader, waiting_undeclared) == 2640);
static_assert(offsetof(SegmentHeader, dispatch_futex) == 2688);
static_assert(offsetof(SegmentHeader, dispatch_sleepers) == 2692);
static_assert(offsetof(SegmentHeader, outcome_futex) == 2752);
static_assert(offsetof(SegmentHeader, outcome_waiters) == 2756);
static_assert(offsetof(SegmentHeader, outcome_bytes) == 2760);
static_assert(offsetof(SegmentHeader, outcome_records) == 2768);
static_assert(offsetof(SegmentHeader, result_ttl_ns) == 2776);
static_assert(offsetof(SegmentHeader, first_job_id) == 2784);

// Validates a mapped header of `mapped_bytes` bytes: magic, version, limits, recomputed layout,
// sizes. Returns Incompatible for a different layout version, Corruption for anything else
// wrong, and NotReady while the version is still 0. On success the validated
// parameters and layout are copied out, read once so a concurrent scribbler cannot change them
// between the check and their use.
Status ValidateHeader(const SegmentHeader* h, uint64_t mapped_bytes, Params* params,
                      Layout* layout);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_SEGMENT_HEADER_H_
