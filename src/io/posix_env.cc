// Env::Default(): the real file system through POSIX calls (pwrite, pread, fdatasync, fsync,
// rename, unlink ...), so tests/faults/fault_shim.cc, an LD_PRELOAD shim, still sees and can
// fail each of them in the real daemon.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "io/env.h"
#include "io/write_loop.h"

namespace taskring::io {
namespace {

int RetryOnEintr(int (*fn)(int), int fd) {
  int r;
  do {
    r = fn(fd);
  } while (r != 0 && errno == EINTR);
  return r;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Write(uint64_t offset, std::string_view data) override {
    size_t written = 0;
    const int err = detail::PwriteFully(::pwrite, fd_, data.data(), data.size(), offset, &written);
    return err == 0 ? Status::OK() : PosixError(path_, err);
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return PosixError(path_, errno);
    return Status::OK();
  }
  Status DataSync() override {
    if (RetryOnEintr(::fdatasync, fd_) != 0) return PosixError(path_, errno);
    return Status::OK();
  }
  Status Sync() override {
    if (RetryOnEintr(::fsync, fd_) != 0) return PosixError(path_, errno);
    return Status::OK();
  }
  Status Close() override {
    if (fd_ < 0) return Status::OK();
    const int r = ::close(fd_);
    fd_ = -1;
    // After close(2) fails the descriptor is gone anyway (Linux): never retry it.
    return r == 0 || errno == EINTR ? Status::OK() : PosixError(path_, errno);
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  int fd_;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, int fd, const struct stat& st)
      : path_(std::move(path)),
        fd_(fd),
        size_(static_cast<uint64_t>(st.st_size)),
        regular_(S_ISREG(st.st_mode)) {}
  ~PosixReadableFile() override { ::close(fd_); }

  uint64_t Size() const override { return size_; }
  bool IsRegular() const override { return regular_; }
  Status Read(uint64_t offset, size_t n, char* scratch, size_t* got) override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        *got = done;
        return PosixError(path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    *got = done;
    return Status::OK();
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const int fd_;
  const uint64_t size_;
  const bool regular_;
};

class PosixEnv final : public Env {
 public:
  Status NewWritableFile(const std::string& path, const WritableFileOptions& options,
                         std::unique_ptr<WritableFile>* out) override {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.exclusive ? O_EXCL : O_TRUNC);
    const int fd = ::open(path.c_str(), flags, static_cast<mode_t>(options.mode));
    if (fd < 0) return PosixError(path, errno, /*not_found=*/true);
    if (options.exact_mode && ::fchmod(fd, static_cast<mode_t>(options.mode)) != 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return PosixError(path, err);
    }
    out->reset(new PosixWritableFile(path, fd));
    return Status::OK();
  }

  Status ReopenWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(path, errno, /*not_found=*/true);
    out->reset(new PosixWritableFile(path, fd));
    return Status::OK();
  }

  Status NewReadableFile(const std::string& path, const ReadableFileOptions& options,
                         std::unique_ptr<ReadableFile>* out) override {
    const int fd =
        ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (options.no_follow ? O_NOFOLLOW : 0));
    if (fd < 0) return PosixError(path, errno, /*not_found=*/true);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return PosixError(path, err);
    }
    out->reset(new PosixReadableFile(path, fd, st));
    return Status::OK();
  }

  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError(dir, errno, /*not_found=*/true);
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name(e->d_name);
      if (name != "." && name != "..") names->emplace_back(name);
      errno = 0;
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return PosixError(dir, err);
    return Status::OK();
  }

  Status Stat(const std::string& path, FileStat* out) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return PosixError(path, errno, /*not_found=*/true);
    out->size = static_cast<uint64_t>(st.st_size);
    out->is_directory = S_ISDIR(st.st_mode);
    out->is_regular = S_ISREG(st.st_mode);
    return Status::OK();
  }

  Status CreateDir(const std::string& dir, int mode) override {
    if (::mkdir(dir.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      return PosixError(dir, errno, /*not_found=*/true);
    }
    ::chmod(dir.c_str(), static_cast<mode_t>(mode));  // the umask may have narrowed it
    return Status::OK();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError(path, errno, /*not_found=*/true);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError(to, errno, /*not_found=*/true);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(dir, errno, /*not_found=*/true);
    const int r = RetryOnEintr(::fsync, fd);
    const int err = errno;
    ::close(fd);
    if (r != 0) return PosixError(dir, err);
    return Status::OK();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* const env = new PosixEnv;  // never destroyed: usable from static destructors
  return env;
}

}  // namespace taskring::io
