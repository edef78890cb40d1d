#include "util/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace taskring::util {

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileLock::Acquire(const std::string& path, int mode, std::string* holder) {
  // A few rounds at most: each retry means a holder unlinked the file between our open and our
  // flock, which only a clean exit does.
  for (int round = 0; round < 100; ++round) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode);
    if (fd < 0) {
      return Status::IOError("cannot open lock file " + path + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char buf[32] = {};
      const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
      if (holder != nullptr) *holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
      ::close(fd);
      if (err == EWOULDBLOCK) return Status::Busy();
      return Status::IOError("cannot lock " + path + ": " + std::strerror(err));
    }
    // The lock counts only if `path` still names the inode we locked: the previous holder may
    // have unlinked it after our open, and a third process may already hold a lock on a new
    // file under the same name.
    struct stat locked {
    }, named{};
    if (::fstat(fd, &locked) != 0 || ::stat(path.c_str(), &named) != 0 ||
        locked.st_dev != named.st_dev || locked.st_ino != named.st_ino) {
      ::close(fd);
      continue;
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      // The pid is only for the error message of a second daemon; the lock itself holds.
    }
    fd_ = fd;
    path_ = path;
    return Status::OK();
  }
  return Status::IOError("lock file " + path + " keeps being replaced; giving up");
}

void FileLock::UnlinkAndRelease() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still locked: nobody can lock this path's inode in between
  ::close(fd_);
  fd_ = -1;
}

}  // namespace taskring::util
