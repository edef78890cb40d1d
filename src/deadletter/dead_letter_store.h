// The dead-letter store: DIR/dead/, one file per dead job ("<id, 20 digits>.dead").
//
// Separate from the WAL so dead letters neither pin WAL segments nor need the daemon to be
// read: `taskring dead list` works on a stopped queue, and purge is an unlink. Writes are temp file
// + fdatasync + rename; the daemon syncs the directory before the DEAD record that lets the job's
// ENQUEUE go, so a dead job is always in one of the two places.
#ifndef TASKRING_DEADLETTER_DEAD_LETTER_STORE_H_
#define TASKRING_DEADLETTER_DEAD_LETTER_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "deadletter/dead_letter.h"
#include "io/env.h"
#include "taskring/status.h"

namespace taskring::deadletter {

class DeadLetterStore {
 public:
  // DIR/dead; with `create` it is made (mode 0700, or 0750 when file_mode grants the group).
  // NotFound when it does not exist and !create. Every file-system call goes through env (not
  // owned; must outlive the store).
  [[nodiscard]] static Status Open(const std::string& wal_dir, int file_mode, bool create,
                                   std::unique_ptr<DeadLetterStore>* out,
                                   io::Env* env = io::Env::Default());

  const std::string& dir() const { return dir_; }

  // Durable once SyncDir() has returned OK after it.
  [[nodiscard]] Status Write(const DeadLetter& letter);
  // Syncs DIR/dead. An error is returned, by the rule in io/env.h: the letters written since the
  // last OK are not durable, so no DEAD record may be written for them until a later call
  // succeeds.
  [[nodiscard]] Status SyncDir();
  // NotFound, IOError, or Corruption (a damaged or foreign file; left in place for a human).
  [[nodiscard]] Status Read(uint64_t job_id, DeadLetter* out) const;
  // Ids of stored dead letters, ascending. Temp files and foreign names are skipped.
  [[nodiscard]] Status List(std::vector<uint64_t>* ids) const;
  // NotFound when there is no such dead letter.
  [[nodiscard]] Status Remove(uint64_t job_id);
  // Deletes temp files left by a Write that a crash interrupted.
  void RemoveTempFiles();

 private:
  DeadLetterStore(std::string dir, int file_mode, io::Env* env)
      : dir_(std::move(dir)), file_mode_(file_mode), env_(env) {}
  std::string PathOf(uint64_t job_id) const;

  std::string dir_;
  int file_mode_;
  io::Env* env_;
};

}  // namespace taskring::deadletter

#endif  // TASKRING_DEADLETTER_DEAD_LETTER_STORE_H_
