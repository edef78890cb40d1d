// LD_PRELOAD shim for storage-fault and power-loss tests of taskringd. It wraps pwrite, write,
// fdatasync, fsync and unlink for files whose path contains "/wal-" (WAL segments) and:
//  - fails writes with ENOSPC while $TASKRING_FAULT_DIR/write_enospc exists,
//  - fails fdatasync/fsync with EIO while $TASKRING_FAULT_DIR/fsync_eio exists,
//  - after every successful fdatasync/fsync appends "<path> <size>\n" to $TASKRING_SYNC_LOG, so
//    a test can cut each file back to what was really made durable (a simulated power loss);
//    outcome store files (path containing "/outcomes/") are logged the same way,
//  - then, while $TASKRING_FAULT_DIR/sync_hang exists, never returns: the record is durable but
//    nobody is told (a test kills the daemon there: a crash between log and answer),
//  - after a WAL segment is unlinked while $TASKRING_FAULT_DIR/unlink_hang exists, creates
//    $TASKRING_FAULT_DIR/unlinked and never returns: a test kills the daemon in the middle of
//    deleting old segments, after everything that had to be synced before was.
// Test-only code; never linked into the product.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using WriteFn = ssize_t (*)(int, const void*, size_t);
using SyncFn = int (*)(int);
using UnlinkFn = int (*)(const char*);

template <typename Fn>
Fn Next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

// The path behind fd in `path` (readlink of /proc/self/fd; good enough for tests). True if it
// names a WAL segment.
bool WalPath(int fd, char* path, size_t cap) {
  char link[64];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, cap - 1);
  path[n > 0 ? n : 0] = '\0';
  if (n <= 0) return false;
  return std::strstr(path, "/wal-") != nullptr;
}

bool OutcomePath(const char* path) { return std::strstr(path, "/outcomes/") != nullptr; }

bool FaultActive(const char* name) {
  const char* dir = std::getenv("TASKRING_FAULT_DIR");
  if (dir == nullptr) return false;
  char path[4096];
  std::snprintf(path, sizeof(path), "%s/%s", dir, name);
  struct stat st;
  return stat(path, &st) == 0;
}

void LogSync(int fd, const char* path) {
  const char* log = std::getenv("TASKRING_SYNC_LOG");
  if (log == nullptr) return;
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  char line[4200];
  const int len =
      std::snprintf(line, sizeof(line), "%s %lld\n", path, static_cast<long long>(st.st_size));
  const int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) return;
  // Raw syscall: our own write() wrapper must not see this.
  syscall(SYS_write, out, line, static_cast<size_t>(len));
  close(out);
}

int SyncCommon(SyncFn real, int fd) {
  char path[4096];
  const bool wal = WalPath(fd, path, sizeof(path));
  if (wal && FaultActive("fsync_eio")) {
    errno = EIO;
    return -1;
  }
  const int rc = real(fd);
  if (rc == 0 && (wal || OutcomePath(path))) LogSync(fd, path);
  while (rc == 0 && wal && FaultActive("sync_hang")) usleep(10000);
  return rc;
}

// Creates $TASKRING_FAULT_DIR/<name> with raw syscalls (no wrapper of ours runs).
void Mark(const char* name) {
  const char* dir = std::getenv("TASKRING_FAULT_DIR");
  if (dir == nullptr) return;
  char path[4096];
  std::snprintf(path, sizeof(path), "%s/%s", dir, name);
  const int fd =
      static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (fd >= 0) close(fd);
}

}  // namespace

extern "C" {

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static PwriteFn real = Next<PwriteFn>("pwrite");
  char path[4096];
  if (FaultActive("write_enospc") && WalPath(fd, path, sizeof(path))) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

ssize_t write(int fd, const void* buf, size_t n) {
  static WriteFn real = Next<WriteFn>("write");
  char path[4096];
  if (FaultActive("write_enospc") && WalPath(fd, path, sizeof(path))) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd, buf, n);
}

int fdatasync(int fd) {
  static SyncFn real = Next<SyncFn>("fdatasync");
  return SyncCommon(real, fd);
}

int fsync(int fd) {
  static SyncFn real = Next<SyncFn>("fsync");
  return SyncCommon(real, fd);
}

int unlink(const char* path) {
  static UnlinkFn real = Next<UnlinkFn>("unlink");
  const int rc = real(path);
  if (rc == 0 && std::strstr(path, "/wal-") != nullptr && FaultActive("unlink_hang")) {
    Mark("unlinked");
    for (;;) usleep(10000);
  }
  return rc;
}

}  // extern "C"
