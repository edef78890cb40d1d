// Env: every file-system call the WAL, the dead-letter store and the queue identity make, behind
// one small interface, as LevelDB's leveldb::Env (google/leveldb/include/leveldb/env.h).
//
// Three implementations:
//  - Env::Default(): the real file system (POSIX calls; an LD_PRELOAD shim still sees them).
//  - MemEnv (io/mem_env.h): files in memory, for fast tests and fuzzing.
//  - FaultInjectionEnv (io/fault_injection_env.h): wraps another Env, injects errors, and can
//    simulate a power loss by dropping whatever was not synced.
//
// Errors. Every failure is a Status whose message is "<path>: <strerror(errno)>" (MemEnv and
// FaultInjectionEnv use the same shape), so a caller adds what it was doing in front with
// Annotate() and gets "cannot write WAL segment <path>: No space left on device". The code is
// NotFound where a method says so (a missing file or directory), IOError otherwise.
//
// Directory sync: the one rule.
//   Creating, renaming or removing a name in a directory is durable only once SyncDir() of that
//   directory has returned OK after it. When SyncDir() fails, nothing about the names changed
//   since its last OK is known: the caller must not report anything that depends on them as
//   durable (no Accepted, no DEAD record, no "deleted"). It may call SyncDir() again later, and
//   only an OK from that lifts the rule; or, when it cannot wait, it gives the work up as failed.
//   Callers:
//    - WalWriter folds it into its sticky sync error (a segment whose name may vanish is no
//      better than one whose fdatasync failed): the owner opens a new writer.
//    - DeadLetterStore::SyncDir() and WriteQueueIdentity() return it; the daemon writes no DEAD
//      record (and no identity is trusted) until a later SyncDir() succeeds.
//    - wal::DeleteSegmentsBefore() (retention) returns it; the caller logs it and tries again at
//      its next collection. A deletion that is not durable can only bring back an old,
//      superseded segment after a host crash, never lose a record.
//
// Thread-safety: Env::Default() and MemEnv may be used from many threads; a file object is used
// by one thread at a time. Ownership: files are owned by the unique_ptr the factory fills; an
// Env must outlive every file it made (Env::Default() lives forever).
#ifndef TASKRING_IO_ENV_H_
#define TASKRING_IO_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskring/status.h"

namespace taskring::io {

// A file open for writing at explicit offsets (the WAL writer rewrites its tail after a failed
// write, so an append cursor would not do).
class WritableFile {
 public:
  WritableFile() = default;
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;
  // Closes the file if Close() was not called; an error then is lost.
  virtual ~WritableFile() = default;

  // Writes all of `data` at `offset`, retrying interrupted and short writes. On error a prefix of
  // `data` may have reached the file: Truncate() to cut it. No copy of `data` is made.
  [[nodiscard]] virtual Status Write(uint64_t offset, std::string_view data) = 0;
  [[nodiscard]] virtual Status Truncate(uint64_t size) = 0;
  // fdatasync: the data written so far (and the size) is durable. The name is not: SyncDir.
  [[nodiscard]] virtual Status DataSync() = 0;
  // fsync: as DataSync, plus the rest of the file's metadata.
  [[nodiscard]] virtual Status Sync() = 0;
  [[nodiscard]] virtual Status Close() = 0;
  virtual const std::string& path() const = 0;
};

// A file open for reading. Size and type are those seen when it was opened.
class ReadableFile {
 public:
  ReadableFile() = default;
  ReadableFile(const ReadableFile&) = delete;
  ReadableFile& operator=(const ReadableFile&) = delete;
  virtual ~ReadableFile() = default;

  virtual uint64_t Size() const = 0;
  virtual bool IsRegular() const = 0;
  // Reads up to n bytes at offset into scratch; *got < n only at the end of the file.
  [[nodiscard]] virtual Status Read(uint64_t offset, size_t n, char* scratch, size_t* got) = 0;
  virtual const std::string& path() const = 0;
};

struct WritableFileOptions {
  // Fail (IOError, EEXIST) when the file exists; otherwise an existing file is truncated.
  bool exclusive = false;
  // Mode of a created file.
  int mode = 0600;
  // Apply `mode` exactly (fchmod after creating), not filtered by the umask.
  bool exact_mode = false;
};

struct ReadableFileOptions {
  // Fail (IOError, ELOOP) when the last path component is a symbolic link.
  bool no_follow = false;
};

struct FileStat {
  uint64_t size = 0;
  bool is_directory = false;
  bool is_regular = false;
};

class Env {
 public:
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  virtual ~Env() = default;

  // The real file system. Never null, never destroyed.
  static Env* Default();

  // Creates (or truncates, see options) `path` for writing. NotFound when the directory is
  // missing.
  [[nodiscard]] virtual Status NewWritableFile(const std::string& path,
                                               const WritableFileOptions& options,
                                               std::unique_ptr<WritableFile>* out) = 0;
  // Opens an existing file for writing, keeping its content. NotFound when it does not exist.
  [[nodiscard]] virtual Status ReopenWritableFile(const std::string& path,
                                                  std::unique_ptr<WritableFile>* out) = 0;
  // NotFound when it does not exist.
  [[nodiscard]] virtual Status NewReadableFile(const std::string& path,
                                               const ReadableFileOptions& options,
                                               std::unique_ptr<ReadableFile>* out) = 0;

  // Names in `dir` (files and directories, not "." or ".."), in no particular order. NotFound
  // when dir does not exist.
  [[nodiscard]] virtual Status GetChildren(const std::string& dir,
                                           std::vector<std::string>* names) = 0;
  // Follows symbolic links. NotFound when there is nothing at path.
  [[nodiscard]] virtual Status Stat(const std::string& path, FileStat* out) = 0;
  // Creates a directory with exactly `mode` (not filtered by the umask); OK when it exists.
  [[nodiscard]] virtual Status CreateDir(const std::string& dir, int mode) = 0;
  // NotFound when there is no such file.
  [[nodiscard]] virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` (if any) with `from`.
  [[nodiscard]] virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Makes the names created, renamed and removed in `dir` durable. What a caller must do when it
  // fails is the rule at the top of this file.
  [[nodiscard]] virtual Status SyncDir(const std::string& dir) = 0;
};

// The whole file (at most max_bytes of it; a bigger file is read to max_bytes).
[[nodiscard]] Status ReadFileToString(Env* env, const std::string& path, std::string* out,
                                      const ReadableFileOptions& options = {},
                                      uint64_t max_bytes = UINT64_MAX);

// s with "<what> " put in front of its message, same code. OK stays OK.
Status Annotate(std::string_view what, const Status& s);

// IOError (NotFound for ENOENT when not_found) "<path>: <strerror(err)>".
Status PosixError(const std::string& path, int err, bool not_found = false);

// "<dir>/<name>", the way every path here is built.
// The directory holding `path`: "." for a bare name, "/" for a name in the root.
inline std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

inline std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string p = dir;
  p += '/';
  p += name;
  return p;
}

}  // namespace taskring::io

#endif  // TASKRING_IO_ENV_H_
