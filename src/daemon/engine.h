// The daemon's engine: the single thread that owns the WAL and every state transition that the
// WAL must witness. One loop iteration:
//
//   drain client lanes -> encode WAL records -> write (+ fdatasync) -> apply: publish accepted
//   jobs, free finished slots, requeue failures -> advance each lane's committed cursor and wake
//   waiting producers -> push ready jobs to the dispatch ring and wake sleeping workers.
//
// Records that arrive while a write/fsync is in flight wait in the lanes and go out together in
// the next iteration: group commit falls out of the loop shape. Other threads talk to the engine
// only through Post() (a moodycamel queue), so no lock guards its state.
#ifndef TASKRING_DAEMON_ENGINE_H_
#define TASKRING_DAEMON_ENGINE_H_

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "daemon/recovery.h"
#include "daemon/schedule.h"
#include "deadletter/dead_letter_store.h"
#include "segment/segment.h"
#include "taskring/status.h"
#include "wal/wal_writer.h"

namespace taskring::daemon {

struct EngineConfig {
  segment::Durability durability = segment::Durability::kFsync;
  // fsync period in interval mode; in fsync mode, the longest a completion record waits for
  // its sync when no enqueue forces one sooner.
  uint32_t interval_ms = 100;
  uint32_t shutdown_grace_ms = 5000;  // how long SIGTERM waits for running jobs
  uint32_t lease_ms = 30000;          // a running job without a heartbeat this long is revoked
  uint32_t retry_backoff_ms = 1000;   // first retry delay; doubles per failed attempt
  uint32_t max_backoff_ms = 300000;   // cap of one retry delay
  uint32_t repair_ms = 1000;          // a ring cell left claimed this long is repaired
  std::string wal_dir;                // for deleting WAL segments no live job needs
  wal::DeadLetterStore* dead_letters = nullptr;  // required; outlives the engine
  uint64_t dead_max = 10000;                     // oldest dead letters beyond this are removed
  wal::WalWriterOptions wal_options;             // for reopening the WAL after a failed fdatasync
};

// Sent by the supervisor thread.
struct Command {
  enum class Kind { kClientGone, kClientClosed } kind;
  uint32_t client = 0;
  uint64_t owner = 0;  // owner word observed; ignored if the entry changed since
};

class Engine {
 public:
  Engine(segment::Segment& seg, std::unique_ptr<wal::WalWriter> wal, const EngineConfig& config);

  // Before the segment is published: places recovered jobs in slots and fills the free ring.
  // InvalidArgument if they do not fit the segment's capacity or payload size.
  Status Load(std::vector<RecoveredJob>& jobs, uint64_t max_job_id);

  // Runs until `stop` is set and shutdown completes. Returns the status that ended it.
  Status Run(const std::atomic<bool>& stop);

  void Post(const Command& c) { commands_.enqueue(c); }

  uint64_t outstanding() const { return outstanding_; }

 private:
  enum class Action : uint8_t { kPublish, kFree, kRequeue, kRedeliver };
  struct Pending {
    Action action;
    uint32_t slot;
    segment::JobStateCode state = segment::JobStateCode::kUnknown;  // kFree: which end
  };

  bool Step();
  void ProcessCommands();
  void RefreshClients();
  bool DrainLane(uint32_t client);
  void Handle(uint32_t client, const segment::LaneRecord& rec);
  Status Commit();
  // Leaves the refusing state (storage fault) once a commit got through.
  void EndRefusal();
  void Apply();
  void Dispatch();
  // False if a storage fault kept the client's last records from the WAL (retry later).
  bool ReleaseClient(uint32_t client, uint64_t owner, bool died);
  void FlushFreeBacklog();
  // True once the same tail cell of `ring` has stayed claimed-but-unreleased for the repair
  // timeout: its consumer is dead or stopped, not merely between two instructions.
  struct StuckWatch {
    uint64_t pos = UINT64_MAX;
    uint64_t since_mono_ns = 0;
  };
  bool RepairDue(segment::RingView ring, StuckWatch* watch);
  // Stores the job in the dead-letter store. False (logged) if it could not: the caller then
  // retries the job instead of logging DEAD, so its payload is never lost.
  bool KeepDeadLetter(uint32_t slot, uint32_t attempts, wal::DeadReason reason);
  // Counts the stored dead letters for the gauge (they also change under `taskring dead`) and
  // removes the oldest beyond dead_max. Every few seconds, or now if `force`.
  void RefreshDeadLetters(bool force);
  // A run that ended without an outcome (worker died, lease expired): counts as an attempt;
  // logs RETRY and hands the job out again, or DEAD once its attempts are used up.
  void ReclaimRun(uint32_t slot, uint32_t gen);
  // QUEUED and into the ready list, or DELAYED until its run time.
  void Schedule(uint32_t slot, uint32_t gen);
  void ExpireLeases();
  void ReleaseDueJobs();
  uint64_t RetryDelayNs(uint32_t failed_attempt);
  // Bounded WAL: every live job pins the segment holding its latest ENQUEUE record; segments
  // pinned by nothing are deleted oldest-first, and the few jobs pinning an old segment (long
  // delays, slow jobs) are re-logged forward so disk use follows live jobs, not history.
  void Pin(uint32_t slot, uint64_t segment);
  void Unpin(uint32_t slot);
  void RelogOldestSegment();
  // An ENQUEUE record carrying a live job's current state (attempts, run time, payload).
  bool RelogRecord(uint32_t slot, wal::WalRecord* r) const;
  void CollectSegments();
  // After a failed fdatasync the writer cannot be trusted (the kernel may have dropped pages):
  // continue in a new segment holding every live job and pending outcome, synced, and delete
  // the older segments. A checkpoint: nothing accepted depends on the suspect file any more.
  Status Checkpoint();
  void DeleteSegmentsBefore(uint64_t segment);
  void SetDaemonState(segment::DaemonState state);
  void FreeSlot(uint32_t slot);
  void SetJobStatus(uint64_t id, segment::JobStateCode state, uint32_t attempt);
  bool AnyLanePending() const;
  uint64_t CountLeasedSlots() const;
  void PublishGauges();
  // Latency histograms live in the segment header; this thread is their only writer.
  void Observe(segment::Histogram h, uint64_t ns);
  // Elapsed ns since a wall-clock stamp read from a slot (0 if the stamp is absent or ahead).
  uint64_t SinceUnixNs(uint64_t stamp) const;
  // Reads both clocks once for everything this step stamps: a status update, a lease deadline
  // or a latency sample per job would otherwise cost several clock reads per job.
  void Tick();
  // fdatasync of the WAL, timed into the fsync histogram.
  Status SyncWal();

  segment::Segment& seg_;
  std::unique_ptr<wal::WalWriter> wal_;
  EngineConfig config_;
  moodycamel::ConcurrentQueue<Command> commands_;

  std::vector<uint32_t> active_clients_;
  uint32_t seen_epoch_ = UINT32_MAX;
  std::vector<uint64_t> lane_consumed_;    // per client: lane position drained, awaiting commit
  std::vector<uint32_t> touched_clients_;  // lanes drained since the last Apply
  std::vector<uint8_t> touched_flag_;
  std::vector<Pending> pending_;
  std::deque<uint64_t> ready_;         // slot refs waiting for room in the dispatch ring
  std::deque<uint64_t> free_backlog_;  // freed slot refs the free ring could not take yet
  bool wal_dirty_ = false;             // written but not yet fdatasync'ed
  bool dead_unsynced_ = false;         // dead letters written since the last directory sync
  uint64_t dead_count_ = 0;            // stored dead letters (as of the last refresh + writes)
  uint64_t last_dead_refresh_ns_ = 0;
  bool enqueues_unsynced_ = false;  // fsync mode: producers wait for these to be synced
  uint64_t last_sync_mono_ns_ = 0;
  std::vector<uint64_t> job_segment_;  // per slot: segment pinned by its job (0: none)
  std::map<uint64_t, uint64_t> pins_;  // segment -> live jobs pinned to it
  uint64_t oldest_segment_ = 0;        // lowest segment file still on disk
  uint64_t last_relog_mono_ns_ = 0;
  LeaseTable leases_;
  DelayQueue delayed_;
  uint64_t last_lease_scan_ns_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  bool refusing_ = false;
  bool rescan_clients_ = false;  // a closing client could not be released (storage fault)
  StuckWatch free_watch_;
  StuckWatch dispatch_watch_;
  bool stopping_ = false;
  uint64_t outstanding_ = 0;
  uint64_t now_unix_ns_ = 0;  // as of the last Tick()
  uint64_t now_mono_ns_ = 0;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_ENGINE_H_
