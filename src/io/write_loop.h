// The retry loop around pwrite(2) that PosixEnv's WritableFile::Write runs, as a template over the
// call so tests can drive it with short writes and EINTR (a real file seldom shows either).
#ifndef TASKRING_IO_WRITE_LOOP_H_
#define TASKRING_IO_WRITE_LOOP_H_

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace taskring::io::detail {

// Calls pwrite_fn(fd, p, n, offset) until all n bytes are written; an interrupted call (EINTR) is
// repeated, a short one continues where it stopped. Returns 0, or the errno of the failed call
// (EIO for a call that wrote nothing and set no error, so it never spins). *written is the number
// of bytes that reached the file either way.
template <typename PwriteFn>
int PwriteFully(PwriteFn&& pwrite_fn, int fd, const char* p, size_t n, uint64_t offset,
                size_t* written) {
  size_t done = 0;
  int err = 0;
  while (done < n) {
    const ssize_t r = pwrite_fn(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (r == 0) {
      err = EIO;
      break;
    }
    done += static_cast<size_t>(r);
  }
  *written = done;
  return err;
}

}  // namespace taskring::io::detail

#endif  // TASKRING_IO_WRITE_LOOP_H_
