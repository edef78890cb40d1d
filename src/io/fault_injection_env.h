// FaultInjectionEnv: wraps another Env (MemEnv or the real one) to make storage misbehave on
// demand, in process, the way google/leveldb/db/fault_injection_test.cc does.
//
//  - Errors: Inject() makes chosen calls fail with an errno (EIO, ENOSPC ...), counted ("let 2
//    through, then fail 1") and/or only for paths containing a string. The Status has the shape
//    a real failure has ("<path>: <strerror>"), so callers' messages are tested as well.
//  - Power loss: DropUnsyncedData() puts the files back the way a host crash could leave them
//    under the rule in env.h: every file written through this env is cut back to the size it had
//    at its last successful DataSync()/Sync() (0 if never), bytes overwritten since inside that
//    size get their synced content back, and every file creation, rename and
//    removal made since the last successful SyncDir() of its directory is undone (a created file
//    disappears, a renamed one gets its old name back, a removed one comes back with its
//    synced content). Afterwards the files on disk are taken as the durable state.
//
// Limits: renames are tracked within one directory (the journal of `to`'s directory); directory
// creation is taken as durable; a file renamed while open keeps being tracked under its old
// name. Call DropUnsyncedData() after the writers are gone: later writes through an old handle
// are not tracked. Thread-safe.
#ifndef TASKRING_IO_FAULT_INJECTION_ENV_H_
#define TASKRING_IO_FAULT_INJECTION_ENV_H_

#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "io/env.h"

namespace taskring::io {

class FaultInjectionEnv : public Env {
 public:
  enum class Op {
    kWrite,     // WritableFile::Write
    kTruncate,  // WritableFile::Truncate
    kSync,      // WritableFile::DataSync and Sync
    kSyncDir,   // Env::SyncDir
    kCreate,    // Env::NewWritableFile
    kRename,    // Env::RenameFile
    kRemove,    // Env::RemoveFile
  };
  // Fault(Op::kWrite).Times(1).Error(ENOSPC): the next write fails with ENOSPC.
  struct Fault {
    explicit Fault(Op o) : op(o) {}
    Fault& PathContains(std::string s) {
      path_contains = std::move(s);
      return *this;
    }
    Fault& Skip(int n) {
      skip = n;
      return *this;
    }
    Fault& Times(int n) {
      times = n;
      return *this;
    }
    Fault& Error(int e) {
      error = e;
      return *this;
    }
    Fault& PartialBytes(size_t n) {
      partial_bytes = n;
      return *this;
    }

    Op op;
    std::string path_contains;  // only paths containing this; empty: every path
    int skip = 0;               // matching calls that succeed before the first failure
    int times = -1;             // failures after those; -1: until ClearFaults()
    int error = EIO;            // errno of the failure
    size_t partial_bytes = 0;   // kWrite: bytes that reach the file before the error
  };

  // target must outlive this env.
  explicit FaultInjectionEnv(Env* target);
  ~FaultInjectionEnv() override;

  void Inject(const Fault& fault);
  void ClearFaults();
  // Calls that failed because of Inject(), since construction.
  int injected_failures() const;

  // Simulates a power loss, see the top of this file. Errors come from the target env.
  [[nodiscard]] Status DropUnsyncedData();
  // Bytes written through this env that DropUnsyncedData() would cut off now.
  uint64_t UnsyncedBytes() const;

  Status NewWritableFile(const std::string& path, const WritableFileOptions& options,
                         std::unique_ptr<WritableFile>* out) override;
  Status ReopenWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status NewReadableFile(const std::string& path, const ReadableFileOptions& options,
                         std::unique_ptr<ReadableFile>* out) override;
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override;
  Status Stat(const std::string& path, FileStat* out) override;
  Status CreateDir(const std::string& dir, int mode) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;

 private:
  friend class FaultWritableFile;

  struct FileState {
    uint64_t size = 0;    // bytes written (end of the furthest write, or the truncated size)
    uint64_t synced = 0;  // size at the last successful sync
    // Synced bytes overwritten since: (offset, content they had), oldest first.
    std::vector<std::pair<uint64_t, std::string>> undo;
  };
  // What a sync about to begin will cover.
  struct SyncMark {
    uint64_t size = 0;
    size_t undo = 0;
  };
  struct DirOp {
    enum class Kind { kCreate, kRename, kRemove } kind;
    std::string path;      // created / removed / rename target
    std::string from;      // rename source
    bool restore = false;  // rename: `path` existed before; remove: always
    std::string content;   // what to restore at `path` (its synced bytes)
  };

  // Non-OK when an injected fault fires for (op, path); *partial gets the kWrite bytes to let
  // through first.
  Status MaybeFail(Op op, const std::string& path, size_t* partial = nullptr);
  void Truncated(const std::string& path, uint64_t size);
  // Writes through `target` to path, first keeping the synced bytes it overwrites for a power
  // loss to restore. Under the lock, so a sync's mark is either before or after the write.
  Status TrackedWrite(WritableFile* target, uint64_t offset, std::string_view data);
  SyncMark MarkSync(const std::string& path);
  // A sync of path that began at `mark` succeeded: what was written before it is durable.
  void Synced(const std::string& path, const SyncMark& mark);
  // The bytes of path a power loss would keep (all of an untracked file).
  std::string DurableContentLocked(const std::string& path);

  Env* const target_;
  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  int injected_ = 0;
  std::map<std::string, FileState> files_;          // by current path
  std::map<std::string, std::vector<DirOp>> dirs_;  // unsynced name changes, by directory
};

}  // namespace taskring::io

#endif  // TASKRING_IO_FAULT_INJECTION_ENV_H_
