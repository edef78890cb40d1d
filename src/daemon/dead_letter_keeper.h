// The engine's use of the dead-letter store: keeps the letter of a job that used up its
// attempts, makes letters durable before the DEAD records that let their jobs' ENQUEUE records
// go, and bounds the store to --dead-max letters (oldest removed first). The store also changes
// under `taskring dead`, so the count is refreshed from it every few seconds. Owned by the engine
// thread.
#ifndef TASKRING_DAEMON_DEAD_LETTER_KEEPER_H_
#define TASKRING_DAEMON_DEAD_LETTER_KEEPER_H_

#include <cstdint>

#include "deadletter/dead_letter_store.h"
#include "segment/segment.h"
#include "taskring/status.h"

namespace taskring::daemon {

class DeadLetterKeeper {
 public:
  // `store` outlives the keeper; evictions are counted in `seg`.
  DeadLetterKeeper(deadletter::DeadLetterStore* store, uint64_t max_letters,
                   const segment::Segment& seg)
      : store_(store), max_letters_(max_letters), seg_(seg) {}

  // Writes the letter; false (logged) if it could not, and the caller must then retry the job
  // instead of logging DEAD, so its payload is never lost.
  bool Keep(const deadletter::DeadLetter& letter);
  // Makes the letters written since the last call durable. Must succeed before a DEAD record of
  // theirs is written.
  [[nodiscard]] Status Sync(uint64_t now_mono_ns);
  // Recounts the stored letters and removes the oldest beyond the bound: every few seconds, or
  // now if `force`.
  void Refresh(uint64_t now_mono_ns, bool force);

  uint64_t count() const { return count_; }

 private:
  deadletter::DeadLetterStore* store_;
  uint64_t max_letters_;
  const segment::Segment& seg_;
  bool unsynced_ = false;  // letters written since the last directory sync
  uint64_t count_ = 0;     // stored letters, as of the last refresh plus writes since
  uint64_t last_refresh_mono_ns_ = 0;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_DEAD_LETTER_KEEPER_H_
