// The daemon's engine: the single thread that owns the WAL and every state transition that the
// WAL must witness. One step:
//
//   read the clock -> drain client lanes -> encode WAL records -> write (+ fdatasync) -> apply:
//   publish accepted jobs, free finished slots, requeue failures -> advance each lane's committed
//   cursor and wake waiting producers -> the interval fdatasync, if due -> return freed slots to
//   the free ring -> re-log jobs out of an old WAL segment, delete unpinned ones -> expire leases
//   -> release due delayed jobs -> recount dead letters -> push ready jobs to the dispatch ring
//   and wake sleeping workers.
//
// Records that arrive while a write/fsync is in flight wait in the lanes and go out together in
// the next step: group commit falls out of the loop shape. In fsync mode the commit is pipelined:
// the fdatasync of one group runs on the WalSyncer's thread while the engine drains and writes
// the next group, which is synced (and its producers told) as soon as the first sync is back. The
// clock is read once at the start of a step and again after an fdatasync (which can take
// milliseconds); every part below is handed that `now`. Other threads talk to the engine only
// through Post() (a moodycamel queue), so no lock guards its state.
//
// The engine's concerns live in their own classes, each unit-tested (tests/daemon/):
// ClientRegistry (attached clients, lane cursors), SlotHandoff (free stack and dispatch rings,
// cell repair), JobRouter (typed jobs to the workers that declare them), LeaseTable (leases and
// job timeouts), DelayQueue, WalRetention (which WAL segments live jobs pin) and
// DeadLetterKeeper; DedupStore (idempotency keys) is the daemon's and outlives the engine. The
// engine itself decides what each lane record means and what goes into the WAL.
#ifndef TASKRING_DAEMON_ENGINE_H_
#define TASKRING_DAEMON_ENGINE_H_

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "daemon/client_registry.h"
#include "daemon/dead_letter_keeper.h"
#include "daemon/dedup_store.h"
#include "daemon/delay_queue.h"
#include "daemon/job_router.h"
#include "daemon/lease_table.h"
#include "daemon/outcome_store.h"
#include "daemon/recovery.h"
#include "daemon/slot_handoff.h"
#include "daemon/wal_retention.h"
#include "daemon/wal_syncer.h"
#include "deadletter/dead_letter_store.h"
#include "segment/segment.h"
#include "taskring/status.h"
#include "util/clock.h"
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
  deadletter::DeadLetterStore* dead_letters = nullptr;  // required; outlives the engine
  uint64_t dead_max = 10000;          // oldest dead letters beyond this are removed
  wal::WalWriterOptions wal_options;  // for reopening the WAL after a failed fdatasync;
                                      // its env is the engine's file system too
  // fsync mode: a group of at least this many records is fdatasynced on a thread of its own
  // while the next is drained and written; a smaller one on the engine thread (PipelinedCommit
  // says why). 0: never, so a step writes, syncs and applies its group before it returns (tests
  // that step the engine by hand use that).
  uint32_t pipeline_min_group = 32;
  // Idempotency keys seen within the dedup window; outlives the engine. nullptr: keys are
  // logged with their jobs but not checked (tests that do not need them).
  DedupStore* dedup = nullptr;
  // What jobs gave back (results, errors, terminal states), kept beyond the WAL; outlives the
  // engine. nullptr: outcomes are logged in the WAL only (tests that do not need them).
  OutcomeStore* outcomes = nullptr;
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

  // One step of the loop (see above). True if it did work, false if it found nothing to do or a
  // storage fault stopped it (then the daemon is refusing new jobs).
  bool Step();
  // Runs steps until `stop` is set and shutdown completes. Returns the status that ended it.
  Status Run(const std::atomic<bool>& stop);

  void Post(const Command& c) { commands_.enqueue(c); }

  uint64_t outstanding() const { return outstanding_; }
  bool refusing() const { return refusing_; }

 private:
  // What to do with a slot once the records about it are committed.
  // kRelease: back to the queue with its attempt given back (Worker::Release).
  enum class Action : uint8_t { kPublish, kFree, kRequeue, kRedeliver, kRelease, kCancel };
  struct Pending {
    Action action;
    uint32_t slot;
    segment::JobStateCode state = segment::JobStateCode::kUnknown;  // kFree: which end
    std::string text;  // kFree/kRequeue: the result or the failed attempt's error
  };

  void ProcessCommands();
  bool DrainLane(uint32_t client);
  void Handle(uint32_t client, segment::LaneView& lane, uint64_t pos);
  void HandleEnqueue(uint32_t client, uint32_t slot, segment::LaneView& lane, uint64_t pos);
  // Queue operations (QueueControl). Pause and resume persist the state first (a file in the
  // WAL directory); purge logs a CANCEL record for each job it cancels and answers the count.
  void HandleQueueOp(uint32_t client, segment::LaneOp op, segment::LaneView& lane, uint64_t pos);
  Status SetPaused(bool paused);
  uint64_t Purge();
  void HandleHeartbeat(uint32_t client, const segment::LaneRecord& rec, bool start);
  // kComplete/kFail, and with `with_text` their kCompleteResult/kFailError forms, whose result
  // or error waits in the client's result buffer.
  void HandleRelease(uint32_t client, const segment::LaneRecord& rec);
  void HandleOutcome(uint32_t client, const segment::LaneRecord& rec, bool complete,
                     bool with_text);
  // kCancel: a queued or delayed job is cancelled (CANCEL logged), a running one asked to stop.
  void HandleCancel(uint32_t client, segment::LaneView& lane, uint64_t pos);
  // Takes a queued or delayed job no one holds away from the workers and logs its CANCEL.
  // False if a worker claimed it first.
  bool CancelWaitingJob(uint32_t slot);
  // Puts outcome records in the outcome store, before their jobs' states are published (a
  // reader that sees a state finds its record): those of completed and dead jobs (`ends`), or
  // those of cancelled jobs and failed attempts.
  void StoreOutcomes(std::vector<Pending>& actions, bool ends);
  Status Commit();
  // fsync mode with pipelined_commit: collects a finished sync (applying its group), writes the
  // next group while one is in flight, starts its sync once none is. Sets *did if it did work.
  Status PipelinedCommit(bool* did);
  // Collects the sync in flight (waiting for it if `wait`, else only if it finished): on success
  // applies its group and tells its producers; on failure puts the group back for the retry.
  Status CollectSync(bool wait);
  // Collects a sync in flight, so the writer's file can be closed, replaced or synced again.
  Status SettleSync() { return syncer_.busy() ? CollectSync(/*wait=*/true) : Status::OK(); }
  bool pipelined() const {
    return config_.pipeline_min_group != 0 && config_.durability == segment::Durability::kFsync;
  }
  // Writes the buffered records (after the dead letters their DEAD records rely on).
  Status FlushWal();
  // Leaves the refusing state (storage fault) once a commit got through.
  void EndRefusal();
  // Applies committed actions and answers the clients whose records they are (all, or `group`
  // when pipelined), then ends completed and dead jobs: producers do not wait for the outcome
  // store.
  void Apply();
  void ApplyCommitted(std::vector<Pending>& actions, const ClientRegistry::Group* group);
  // Publishes the terminal states of the `which` actions (kCancel or kFree) and frees their
  // slots. Their records are already in the store.
  void EndJobs(const std::vector<Pending>& actions, Action which);
  // False if a storage fault kept the client's last records from the WAL (retry later).
  bool ReleaseClient(uint32_t client, uint64_t owner, bool died);
  // Keeps the dead letter of the job in `slot`. False if it could not: the caller then retries
  // the job instead of logging DEAD, so its payload is never lost.
  bool KeepDeadLetter(uint32_t slot, uint32_t attempts, deadletter::DeadReason reason);
  // A run that ended without an outcome (worker died, lease expired): counts as an attempt;
  // logs RETRY and hands the job out again, or DEAD once its attempts are used up.
  // `why` is the attempt's error (the outcome store shows it as the job's last error).
  void ReclaimRun(uint32_t slot, uint32_t gen, std::string why);
  // QUEUED and ready for dispatch, or DELAYED until its run time.
  void Schedule(uint32_t slot, uint32_t gen);
  void ExpireLeases();
  void ReleaseDueJobs();
  void RelogOldestSegment();
  void CollectSegments();
  // Makes the idempotency keys and the outcome store durable in their own files before WAL
  // segments holding them go. False (logged) if it failed: nothing may be deleted.
  bool PersistKeys();
  // After a failed fdatasync the writer cannot be trusted (the kernel may have dropped pages):
  // continue in a new segment holding every live job and pending outcome, synced, and delete
  // the older segments. A checkpoint: nothing accepted depends on the suspect file any more.
  Status Checkpoint();
  void SetDaemonState(segment::DaemonState state);
  void SetJobStatus(uint64_t id, segment::JobStateCode state, uint32_t attempt);
  void AddRecord(wal::WalRecord& r);  // assigns its LSN
  uint64_t CountLeasedSlots() const;
  void PublishGauges();
  // Latency histograms live in the segment header; this thread is their only writer.
  void Observe(segment::Histogram h, uint64_t ns);
  // Elapsed ns since a wall-clock stamp read from a slot (0 if the stamp is absent or ahead).
  uint64_t SinceUnixNs(uint64_t stamp) const;
  // fdatasync of the WAL, timed into the fsync histogram; reads the clock anew after it.
  Status SyncWal();

  segment::Segment& seg_;
  std::unique_ptr<wal::WalWriter> wal_;
  EngineConfig config_;
  moodycamel::ConcurrentQueue<Command> commands_;
  util::Now now_;  // as of the start of this step, or its last fdatasync

  ClientRegistry clients_;
  SlotHandoff handoff_;
  JobRouter router_;
  LeaseTable leases_;
  DelayQueue delayed_;
  WalRetention retention_;
  DeadLetterKeeper dead_letters_;

  std::vector<Pending> pending_;  // decided, waiting for their records' commit
  // Pipelined commit: the group whose fdatasync is in flight, and whether records were written
  // after that sync began (not covered by it).
  std::vector<Pending> syncing_pending_;
  ClientRegistry::Group syncing_group_;
  bool written_during_sync_ = false;
  WalSyncer syncer_;        // after wal_: destroyed first, so a sync in flight ends before the file
  bool wal_dirty_ = false;  // written but not yet fdatasync'ed
  bool enqueues_unsynced_ = false;  // fsync mode: producers wait for these to be synced
  uint64_t last_sync_mono_ns_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  bool refusing_ = false;
  bool stopping_ = false;
  uint64_t outstanding_ = 0;
  uint64_t dedup_evicted_ = 0;  // as last added to the counter
  // As last added to the counters.
  uint64_t outcomes_stored_ = 0, outcomes_evicted_ = 0, outcomes_expired_ = 0;
  uint64_t next_outcome_expiry_mono_ns_ = 0;
  bool outcome_flush_failed_ = false;  // logged once per run of failures
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_ENGINE_H_
