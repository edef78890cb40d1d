// An exclusive flock held for the life of its owner (the daemon, or a `taskring dead` command).
// The kernel drops it when the process dies, however it dies, so a lock left by a crashed
// process never blocks its successor and a live one is never mistaken for dead (no pid files,
// no PID-reuse hazard).
#ifndef TASKRING_UTIL_FILE_LOCK_H_
#define TASKRING_UTIL_FILE_LOCK_H_

#include <string>

#include "taskring/status.h"

namespace taskring::util {

class FileLock {
 public:
  FileLock() = default;
  ~FileLock();  // releases the lock; the file stays
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Takes the lock without waiting. Busy if another process holds it; `holder` then gets the
  // pid recorded in the file. The file is created with `mode`. Safe against a holder that
  // unlinks the file as it releases it (UnlinkAndRelease): a lock taken on an inode that is no
  // longer at `path` is dropped and taken again on the new file.
  Status Acquire(const std::string& path, int mode, std::string* holder);

  // Removes the file, then releases the lock, so a clean exit leaves nothing behind. A process
  // blocked on the old inode notices (see Acquire) instead of sharing the lock with a newcomer.
  void UnlinkAndRelease();

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace taskring::util

#endif  // TASKRING_UTIL_FILE_LOCK_H_
