// The shared-memory segment of one queue: layout, fixed-width structures and their validation.
//
// One POSIX shared-memory object per queue, /dev/shm/taskring.<queue>, created by taskringd.
// Everything is addressed by offsets recorded in the header (never raw pointers), so every process
// may map it at a different address. Any attached process can scribble on it: readers validate
// the header on attach and bounds-check every index they read from it afterwards.
//
//   offset 0  +---------------------------------------------+
//             | SegmentHeader (4 KiB)                       |  magic, layout version (written
//             |   parameters, region offsets/sizes,         |  last), capacity, payload size,
//             |   daemon pid and state, life mutex,         |  daemon identity, doorbell futex,
//             |   doorbell futex, next job id               |  id allocator
//             +---------------------------------------------+
//             | Counters: kCounterCount x 64 B              |  one cache line per counter
//             +---------------------------------------------+
//             | Clients: max_clients x ClientEntry (256 B)  |  one per attached producer/worker
//             +---------------------------------------------+
//             | Lanes: max_clients x lane_capacity x 16 B   |  SPSC client -> daemon records
//             +---------------------------------------------+
//             | Free ring: RingHeader + ring_capacity cells |  MPMC: free job slots (admission)
//             +---------------------------------------------+
//             | Dispatch ring: RingHeader + cells           |  MPMC: jobs ready for workers
//             +---------------------------------------------+
//             | Status table: status_entries x 16 B         |  job id -> state, for polling
//             +---------------------------------------------+
//             | Job slots: capacity x slot_stride           |  SlotHeader (64 B) + payload
//             +---------------------------------------------+
//
// Ownership: the daemon creates the segment and is the only writer of the header (but for the
// id allocator and doorbell), the only pusher of the free and dispatch rings, and the only
// consumer of lanes. Producers pop the free ring and push their lane; workers pop the dispatch
// ring and push their lane. A slot's state word is the single authority on who owns a job;
// ring entries are hints validated against it (see docs/architecture.md).
#ifndef TASKRING_SEGMENT_LAYOUT_H_
#define TASKRING_SEGMENT_LAYOUT_H_

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "taskring/status.h"

namespace taskring::segment {

inline constexpr uint64_t kMagic = 0x474E49524B534154ULL;  // "TASKRING" little-endian
// Bumped on any incompatible change of this file. 0 in the header means "not ready yet".
inline constexpr uint32_t kLayoutVersion = 5;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kHeaderBytes = 4096;
inline constexpr size_t kSlotHeaderBytes = 64;
inline constexpr size_t kClientEntryBytes = 320;

// Limits checked both at creation and on attach, so a corrupt header cannot make a reader
// compute a huge or overflowing region.
inline constexpr uint32_t kMaxCapacity = 1u << 24;
inline constexpr uint32_t kMaxPayload = 16u << 20;
inline constexpr uint32_t kMaxClients = 4096;
inline constexpr uint32_t kMaxLaneCapacity = 1u << 16;
inline constexpr uint64_t kMaxSegmentBytes = 64ULL << 30;
inline constexpr size_t kMaxQueueName = 64;
inline constexpr size_t kMaxWalDir = 1024;  // with its NUL

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
};

// Region offsets and sizes, a pure function of Params (ComputeLayout). The creator records it in
// the header; an attacher recomputes it from the recorded Params and refuses any mismatch.
struct Layout {
  uint32_t ring_capacity = 0;   // power of two >= capacity
  uint32_t status_entries = 0;  // power of two >= 4 * capacity
  uint32_t slot_stride = 0;     // SlotHeader + payload rounded to a cache line
  uint64_t counters_offset = 0;
  uint64_t clients_offset = 0;
  uint64_t lanes_offset = 0;
  uint64_t free_ring_offset = 0;
  uint64_t dispatch_ring_offset = 0;
  uint64_t status_offset = 0;
  uint64_t slots_offset = 0;
  uint64_t total_bytes = 0;
  bool operator==(const Layout&) const = default;
};

// Checks limits and derives the layout. InvalidArgument names the offending parameter.
Status ComputeLayout(const Params& params, Layout* out);

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
  kDeadEvicted,  // dead letters removed, oldest first, to stay within --dead-max
  kCount,
};
inline constexpr uint32_t kCounterCount = static_cast<uint32_t>(Counter::kCount);
const char* CounterName(Counter c);  // snake_case label, e.g. "accepted"

struct alignas(kCacheLine) CounterCell {
  std::atomic<uint64_t> value;
};
static_assert(sizeof(CounterCell) == kCacheLine);

// Why a producer was refused. Counted per client (see ClientEntry::rejected): a full queue
// under load makes every producer count at once, and one shared line would bounce between them.
enum class RejectReason : uint32_t { kBusy = 0, kTooLarge, kStorage, kStopped, kCount };
inline constexpr uint32_t kRejectReasonCount = static_cast<uint32_t>(RejectReason::kCount);
const char* RejectReasonName(RejectReason r);  // "busy", "too_large", "storage", "stopped"

// Latency histograms, recorded by the daemon's engine thread only (a single writer: plain
// relaxed stores, no read-modify-write), read by anyone. Buckets are Prometheus "le" bounds.
enum class Histogram : uint32_t { kJobWait = 0, kJobRun, kJobLatency, kWalFsync, kCount };
inline constexpr uint32_t kHistogramCount = static_cast<uint32_t>(Histogram::kCount);
inline constexpr uint32_t kHistogramBuckets = 24;  // 1 us .. 60 s, 1-2.5-5 per decade; + Inf
struct alignas(kCacheLine) HistogramCells {
  std::atomic<uint64_t> bucket[kHistogramBuckets + 1];  // non-cumulative; last = above 60 s
  std::atomic<uint64_t> sum_ns;
};

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
  // the daemon dies, however it dies, the kernel marks the futex word OWNER_DIED, so clients
  // see the death with one load, at once and without PID-reuse doubt (see DaemonLifeWord). ---
  alignas(kCacheLine) pthread_mutex_t daemon_life;
  HistogramCells histograms[kHistogramCount];
};
static_assert(sizeof(SegmentHeader) <= kHeaderBytes);
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// Client table entry. A process claims a free entry by CAS on `owner` (0 -> pid<<8 | kClaiming),
// fills in its identity, then publishes kActive. The daemon reclaims entries whose process died.
enum class ClientState : uint8_t { kFree = 0, kClaiming = 1, kActive = 2, kClosing = 3 };
enum class ClientRole : uint32_t { kProducer = 1, kWorker = 2 };
inline uint64_t PackClientOwner(int32_t pid, ClientState s) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 8) | static_cast<uint8_t>(s);
}
inline int32_t OwnerPid(uint64_t owner) { return static_cast<int32_t>(owner >> 8); }
inline ClientState OwnerState(uint64_t owner) { return static_cast<ClientState>(owner & 0xff); }

struct alignas(kCacheLine) ClientEntry {
  std::atomic<uint64_t> owner;
  std::atomic<uint64_t> start_ticks;  // with the pid, identifies the process across PID reuse
  std::atomic<uint32_t> role;         // ClientRole bits
  // Lane cursors: the client publishes `tail`, the daemon consumes up to `head` and, once the
  // records are in the WAL (and synced in fsync mode), advances `committed`.
  alignas(kCacheLine) std::atomic<uint64_t> tail;
  alignas(kCacheLine) std::atomic<uint64_t> head;
  alignas(kCacheLine) std::atomic<uint64_t> committed;
  std::atomic<uint32_t> commit_futex;  // low bits of committed; futex word for waiters
  std::atomic<uint32_t> commit_waiters;
  // Refusals counted by whichever client holds the entry (one writer at a time: load + store).
  // Never reset, not even when the entry changes hands, so their sum over all entries only
  // grows, as a Prometheus counter must.
  alignas(kCacheLine) std::atomic<uint64_t> rejected[kRejectReasonCount];
};
static_assert(sizeof(ClientEntry) == kClientEntryBytes);

// A lane record: what a client asks the daemon to do with a slot.
enum class LaneOp : uint32_t { kEnqueue = 1, kStart = 2, kComplete = 3, kFail = 4, kTouch = 5 };
struct LaneRecord {
  uint32_t op;        // LaneOp
  uint32_t slot;      // job slot index (validated < capacity)
  uint32_t slot_gen;  // slot generation when the op was issued (fences stale ops)
  uint32_t attempt;   // lease token for kStart/kComplete/kFail
};
static_assert(sizeof(LaneRecord) == 16);

// Job slots. The 64-bit state word packs generation | owner client | state, so one CAS both
// checks that a hint (from a ring) is current and transfers ownership.
enum class SlotState : uint8_t {
  kFree = 0,       // in (or on its way to) the free ring
  kWriting = 1,    // claimed by a producer, payload being written
  kSubmitted = 2,  // handed to the daemon via a lane, not yet in the WAL
  kQueued = 3,     // durable and in the dispatch ring (or the daemon's ready list)
  kRunning = 4,    // leased by a worker
  kDelayed = 5,    // waiting for a retry time (daemon-held)
  // The worker fenced its own lease before reporting: from here the daemon can no longer revoke
  // it, so a Complete that returned OK is never overtaken by a redelivery.
  kCompleting = 6,
  kFailing = 7,
};
inline constexpr uint32_t kNoClient = 0xffff;
inline uint64_t PackSlotWord(uint32_t gen, uint32_t owner, SlotState s) {
  return (static_cast<uint64_t>(gen) << 32) | (static_cast<uint64_t>(owner & 0xffff) << 8) |
         static_cast<uint8_t>(s);
}
inline uint32_t SlotGen(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
inline uint32_t SlotOwner(uint64_t w) { return static_cast<uint32_t>((w >> 8) & 0xffff); }
inline SlotState SlotStateOf(uint64_t w) { return static_cast<SlotState>(w & 0xff); }
// Leased: a worker holds the job (running, or fenced for its outcome).
inline bool IsLeased(SlotState s) {
  return s == SlotState::kRunning || s == SlotState::kCompleting || s == SlotState::kFailing;
}
// Live: an accepted job that has not finished; its ENQUEUE record must stay in the WAL.
inline bool IsLive(SlotState s) {
  return s == SlotState::kQueued || s == SlotState::kDelayed || IsLeased(s);
}

struct alignas(kCacheLine) SlotHeader {
  std::atomic<uint64_t> word;
  uint64_t job_id;
  uint64_t enqueued_unix_ns;
  uint64_t started_unix_ns;
  uint32_t payload_len;
  std::atomic<uint32_t> attempt;  // attempts started so far; the lease token of this run
  uint32_t max_attempts;
  uint32_t priority;
  uint64_t not_before_unix_ns;
};
static_assert(sizeof(SlotHeader) == kSlotHeaderBytes);

// Status table entry: id (48 bits) | state (8) | attempt (8), one atomic word so a reader never
// sees a torn entry. Indexed by id & (status_entries - 1).
enum class JobStateCode : uint8_t {
  kUnknown = 0,
  kPending = 1,
  kQueued = 2,
  kRunning = 3,
  kDelayed = 4,
  kCompleted = 5,
  kFailedRetrying = 6,
  kDead = 7,
};
struct StatusEntry {
  std::atomic<uint64_t> packed;
  std::atomic<uint64_t> updated_unix_ns;
};
static_assert(sizeof(StatusEntry) == 16);
inline uint64_t PackStatus(uint64_t id, JobStateCode s, uint32_t attempt) {
  return (id << 16) | (static_cast<uint64_t>(s) << 8) | (attempt > 255 ? 255 : attempt);
}

// The futex word of the daemon-life mutex (glibc keeps it first in pthread_mutex_t). Nonzero
// TID bits without OWNER_DIED mean a live holder.
inline bool DaemonLifeHeld(const SegmentHeader* h) {
  const int word = std::atomic_ref<int>(const_cast<int&>(h->daemon_life.__data.__lock))
                       .load(std::memory_order_acquire);
  constexpr int kOwnerDied = 0x40000000;
  constexpr int kTidMask = 0x3fffffff;
  return (word & kOwnerDied) == 0 && (word & kTidMask) != 0;
}

// Validates a mapped header of `mapped_bytes` bytes: magic, version, limits, recomputed layout,
// sizes. Returns Incompatible for a different layout version, Corruption for anything else
// wrong, and NotReady while the version is still 0. On success the validated
// parameters and layout are copied out, read once so a concurrent scribbler cannot change them
// between the check and their use.
Status ValidateHeader(const SegmentHeader* h, uint64_t mapped_bytes, Params* params,
                      Layout* layout);

// Queue names become file names: [A-Za-z0-9_.-]{1,64}, not starting with '.'.
Status ValidateQueueName(const std::string& name);
// "taskring.<queue>": the POSIX shm name of a queue's segment (/dev/shm/taskring.<queue>).
std::string ShmName(const std::string& queue);
// "/dev/shm/taskring.<queue>~lock": the flock held by the queue's daemon for its life.
std::string LockPath(const std::string& queue);
// "taskring.<queue>~new": where the daemon builds the segment before it appears under ShmName.
std::string StagingShmName(const std::string& queue);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_LAYOUT_H_
