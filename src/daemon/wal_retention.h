// Bounded WAL: which segment files live jobs still need, and deleting the rest. Every live job
// pins the segment holding its latest ENQUEUE record; segments pinned by nothing are deleted
// oldest-first. A few jobs can pin an old segment for long (long delays, slow jobs): those are
// re-logged forward, so disk use follows live jobs, not history. (beanstalkd keeps the same
// concern apart, in its walg.c.) Owned by the engine thread.
#ifndef TASKRING_DAEMON_WAL_RETENTION_H_
#define TASKRING_DAEMON_WAL_RETENTION_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/env.h"

namespace taskring::daemon {

class WalRetention {
 public:
  // `oldest_on_disk`: the lowest segment number present at start. `env` outlives this.
  WalRetention(io::Env* env, std::string wal_dir, uint32_t capacity, uint64_t oldest_on_disk)
      : env_(env),
        wal_dir_(std::move(wal_dir)),
        job_segment_(capacity, 0),
        oldest_(oldest_on_disk) {}

  // The job in `slot` now has its latest ENQUEUE record in `segment`.
  void Pin(uint32_t slot, uint64_t segment);
  // The job in `slot` is gone (finished or dead).
  void Unpin(uint32_t slot);
  // Forgets every pin (a checkpoint re-logs every live job and pins them anew).
  void UnpinAll();
  // The segment pinned by the job in `slot` (0: none).
  uint64_t pinned_by(uint32_t slot) const { return job_segment_[slot]; }

  // The oldest segment if its jobs should be re-logged now: it is at least two rotations behind
  // `current_segment`, still pinned, and the last re-log was a second ago or more (finding its
  // jobs is a scan of the slots). 0 otherwise.
  uint64_t SegmentToRelog(uint64_t current_segment, uint64_t now_mono_ns);
  // How many segments, oldest first and before `current_segment`, no live job pins.
  uint64_t Deletable(uint64_t current_segment) const;
  // True when DeleteBefore has work: deletable segments, or a directory sync that failed; but
  // not within a second of a failure, so a broken disk is not hammered (nor the log flooded).
  bool CollectionDue(uint64_t current_segment, uint64_t now_mono_ns) const;
  // Deletes segment files from the oldest up to (not including) `segment`, then syncs the
  // directory so the deletions outlive a host crash (the rule in io/env.h). Stops at the first
  // file it cannot delete; a failure is logged and retried a second later.
  void DeleteBefore(uint64_t segment, uint64_t now_mono_ns);

  uint64_t oldest() const { return oldest_; }

 private:
  io::Env* env_;
  std::string wal_dir_;
  std::vector<uint64_t> job_segment_;  // per slot: segment pinned by its job (0: none)
  std::map<uint64_t, uint64_t> pins_;  // segment -> live jobs pinned to it
  uint64_t oldest_;                    // lowest segment file still on disk
  uint64_t last_relog_mono_ns_ = 0;
  bool sync_pending_ = false;  // the last deletion's directory sync (or a deletion) failed
  uint64_t retry_after_mono_ns_ = 0;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_WAL_RETENTION_H_
