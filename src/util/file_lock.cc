#include "util/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace taskring::util {

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileLock::Acquire(const std::string& path, int mode, std::string* holder) {
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
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for the error message of a second daemon; the lock itself holds.
  }
  fd_ = fd;
  return Status::OK();
}

}  // namespace taskring::util
