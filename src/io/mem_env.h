// MemEnv: an Env whose files live in memory, for tests and fuzzing (helpers/memenv in LevelDB).
//
// It follows the POSIX contract of env.h with these simplifications: no symbolic links (so
// ReadableFileOptions::no_follow changes nothing), CreateDir also creates missing parents,
// modes are recorded but never enforced, and a sync is a no-op that always succeeds (pair it
// with FaultInjectionEnv to lose unsynced data). A file removed while open stays usable through
// its open handles, as on POSIX. Thread-safe.
#ifndef TASKRING_IO_MEM_ENV_H_
#define TASKRING_IO_MEM_ENV_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "io/env.h"

namespace taskring::io {

class MemEnv final : public Env {
 public:
  MemEnv();
  ~MemEnv() override;

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

  // The mode a file was created with; -1 when there is no such file.
  int FileMode(const std::string& path);

  struct File;  // shared by the env's table and the open handles

 private:
  bool DirExistsLocked(const std::string& dir) const;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<File>> files_;
  std::set<std::string> dirs_;
};

}  // namespace taskring::io

#endif  // TASKRING_IO_MEM_ENV_H_
