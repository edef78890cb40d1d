// DeadLetters: a queue's dead letters (WAL_DIR/dead/), the jobs that used up their attempts,
// kept with their payload until someone requeues or purges them. `taskring dead` is built on it.
//
// List and Read only read files, so they work on a stopped queue. Requeue enqueues a dead job's
// payload (with its priority, type, headers, timeout and max attempts, but not its idempotency
// key, which names the dead job) as a new job through the daemon, and removes the letter only
// once the new job is accepted: a crash in between leaves the letter, never loses the job.
// Requeue and Purge hold the file lock DIR/dead/LOCK while they change the store, so two of them
// in any processes never requeue one letter twice; Lock() holds it across several calls. While
// another process holds it they answer NotReady (retry shortly), naming its pid.
//
// Thread-safety: one thread at a time. Nothing here throws.
#ifndef TASKRING_DEAD_LETTERS_H_
#define TASKRING_DEAD_LETTERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "taskring/export.h"
#include "taskring/status.h"

namespace taskring {

class Producer;
namespace deadletter {
class DeadLetterStore;
}
namespace util {
class FileLock;
}

struct DeadLettersOptions {
  // The queue: where Requeue enqueues, and whose running daemon names the WAL directory when
  // `dir` is empty. Required unless `dir` is set (then Requeue cannot be used).
  std::string queue;
  // The queue's WAL directory (taskringd --dir); empty: the one the running daemon recorded.
  // Set it to read a stopped queue's dead letters.
  std::string dir;
  // Requeue: how long to wait for a daemon that is not running yet (Producer's option).
  uint32_t wait_for_daemon_ms = 0;
};

// One dead letter, as stored.
struct DeadLetter {
  uint64_t job_id = 0;
  uint32_t attempts = 0;
  uint32_t max_attempts = 0;
  uint64_t enqueued_unix_ns = 0;
  uint64_t dead_unix_ns = 0;
  // "failed" (its handler failed the last attempt) or "lost" (its last run ended without an
  // outcome: the worker died or its lease expired).
  std::string reason;
  int priority = 5;
  uint32_t timeout_ms = 0;  // 0: none
  std::string type;
  std::string idempotency_key;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;
};

class TASKRING_EXPORT DeadLetters {
 public:
  // NotFound when `dir` is empty and the queue is not running (or its daemon recorded no
  // directory). A directory where no job ever died opens: it lists nothing, and Read, Requeue
  // and Purge answer NotFound ("no dead letters at DIR").
  [[nodiscard]] static Status Open(const DeadLettersOptions& options,
                                   std::unique_ptr<DeadLetters>* out);
  ~DeadLetters();
  DeadLetters(const DeadLetters&) = delete;
  DeadLetters& operator=(const DeadLetters&) = delete;

  // The store's directory (DIR/dead).
  [[nodiscard]] const std::string& dir() const { return dir_; }
  // False when no job ever died here (there is no DIR/dead).
  [[nodiscard]] bool exists() const { return store_ != nullptr; }
  // Ids of the stored dead letters, ascending.
  [[nodiscard]] Status List(std::vector<uint64_t>* ids) const;
  // NotFound when there is none for the id; Corruption for a damaged file (left in place).
  [[nodiscard]] Status Read(uint64_t job_id, DeadLetter* out) const;

  // Takes DIR/dead/LOCK until Unlock() or destruction, for several changes in a row (each
  // change takes it for itself otherwise). Busy when another process holds it; *holder (if
  // given) then gets that process's pid.
  [[nodiscard]] Status Lock(std::string* holder = nullptr);
  void Unlock();
  // Attaches to the queue's daemon for Requeue (which does it itself when needed): the same
  // results as Producer::Open.
  [[nodiscard]] Status Connect();
  // Enqueues the letter as a new job and then removes it. Busy (queue full) changes nothing;
  // *new_id is set once the job is accepted, also when removing the letter then fails.
  [[nodiscard]] Status Requeue(uint64_t job_id, uint64_t* new_id);
  // Removes the letter; NotFound when there is none.
  [[nodiscard]] Status Purge(uint64_t job_id);
  // Removes every letter; *purged says how many.
  [[nodiscard]] Status PurgeAll(uint64_t* purged);
  // After a Busy Requeue: the producer's suggested wait (Producer::RetryAfterMs).
  [[nodiscard]] uint32_t RetryAfterMs() const;

 private:
  DeadLetters(DeadLettersOptions options, std::string dir,
              std::unique_ptr<deadletter::DeadLetterStore> store, Status absent);
  // Takes the lock for one change unless Lock() holds it; *taken says whether to release it.
  Status LockForChange(bool* taken);

  DeadLettersOptions options_;
  std::string dir_;
  std::unique_ptr<deadletter::DeadLetterStore> store_;  // null: no DIR/dead yet
  Status absent_;  // why store_ is null (NotFound "no dead letters at DIR")
  std::unique_ptr<util::FileLock> lock_;
  std::unique_ptr<Producer> producer_;
};

}  // namespace taskring

#endif  // TASKRING_DEAD_LETTERS_H_
