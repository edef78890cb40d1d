// Rebuilds the set of live (non-terminal) jobs from the WAL at daemon start.
#ifndef TASKRING_DAEMON_RECOVERY_H_
#define TASKRING_DAEMON_RECOVERY_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/outcome_store.h"
#include "deadletter/dead_letter_store.h"
#include "outcome/outcome_record.h"
#include "taskring/status.h"
#include "wal/wal_reader.h"

namespace taskring::daemon {

struct RecoveredJob {
  uint64_t id = 0;
  uint32_t attempts_made = 0;  // failed attempts recorded in the WAL
  uint32_t max_attempts = 0;
  uint64_t enqueued_unix_ns = 0;
  uint64_t not_before_unix_ns = 0;  // delayed (enqueue delay or retry backoff) until then
  uint64_t wal_segment = 0;         // the segment file holding its (latest) ENQUEUE record
  bool was_running = false;         // a START with no outcome after it: handed out again
  uint32_t priority = 5;            // taskring/options.h kDefaultPriority
  uint32_t timeout_ms = 0;
  std::string payload;
  std::string meta;                  // encoded (util/job_meta.h)
  std::array<uint8_t, 12> secret{};  // its token secret
  uint64_t started_unix_ns = 0;      // of its last START
};

// An idempotency key found in an ENQUEUE record (of a live or a finished job).
struct RecoveredKey {
  std::string key;
  uint64_t job_id = 0;
  uint64_t enqueued_unix_ns = 0;
};

struct RecoveryResult {
  std::vector<RecoveredJob> live;  // in id order (FIFO)
  uint64_t max_job_id = 0;
  uint64_t next_lsn = 1;
  uint64_t terminal = 0;           // completed or dead jobs seen
  uint64_t was_running = 0;        // live jobs that were running when the last daemon stopped
  std::vector<RecoveredKey> keys;  // in log order
  // What the WAL says jobs gave back (COMPLETE, RETRY, DEAD, CANCEL records of jobs whose
  // ENQUEUE it still holds), in log order: the outcome store may have lost the latest of them
  // (it is synced only before WAL segments are deleted), so the engine adds what it lacks.
  std::vector<outcome::OutcomeRecord> outcomes;
  wal::ReplayReport report;
};

// Replays DIR. Corruption in the middle of the log stops recovery (unless salvage) with a
// message naming file and offset; a torn tail is truncated and reported.
Status RecoverFromWal(const std::string& dir, bool salvage, RecoveryResult* out);

// Removes what a crash can leave in the dead-letter store: temp files, and the letters of jobs
// that are live again (written, but the daemon died before their DEAD record was synced).
// Returns how many stale letters were removed.
uint64_t ReconcileDeadLetters(deadletter::DeadLetterStore& store,
                              const std::vector<RecoveredJob>& live);

// Adds to the outcome store each recovered outcome it lacks (its latest record of the job is
// older: a lower attempt, or a retry where the WAL has the end). Returns how many it added;
// the caller flushes and syncs the store.
uint64_t RestoreOutcomes(OutcomeStore* store, std::vector<outcome::OutcomeRecord>* outcomes);

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_RECOVERY_H_
