#include "io/mem_env.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace taskring::io {

struct MemEnv::File {
  std::mutex mu;
  std::string data;
  int mode = 0;
};

namespace {

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(std::string path, std::shared_ptr<MemEnv::File> file)
      : path_(std::move(path)), file_(std::move(file)) {}

  Status Write(uint64_t offset, std::string_view data) override {
    std::lock_guard<std::mutex> lock(file_->mu);
    std::string& d = file_->data;
    if (d.size() < offset + data.size()) d.resize(offset + data.size(), '\0');
    std::memcpy(d.data() + offset, data.data(), data.size());
    return Status::OK();
  }
  Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> lock(file_->mu);
    file_->data.resize(size, '\0');
    return Status::OK();
  }
  Status DataSync() override { return Status::OK(); }
  Status Sync() override { return Status::OK(); }
  Status Close() override { return Status::OK(); }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<MemEnv::File> file_;
};

class MemReadableFile final : public ReadableFile {
 public:
  MemReadableFile(std::string path, std::shared_ptr<MemEnv::File> file, uint64_t size)
      : path_(std::move(path)), file_(std::move(file)), size_(size) {}

  uint64_t Size() const override { return size_; }
  bool IsRegular() const override { return true; }
  Status Read(uint64_t offset, size_t n, char* scratch, size_t* got) override {
    std::lock_guard<std::mutex> lock(file_->mu);
    const std::string& d = file_->data;
    *got = offset >= d.size() ? 0 : std::min<size_t>(n, d.size() - offset);
    if (*got > 0) std::memcpy(scratch, d.data() + offset, *got);
    return Status::OK();
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<MemEnv::File> file_;
  const uint64_t size_;
};

}  // namespace

MemEnv::MemEnv() { dirs_.insert("/"); }
MemEnv::~MemEnv() = default;

bool MemEnv::DirExistsLocked(const std::string& dir) const { return dirs_.count(dir) != 0; }

Status MemEnv::NewWritableFile(const std::string& path, const WritableFileOptions& options,
                               std::unique_ptr<WritableFile>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!DirExistsLocked(ParentDir(path))) return PosixError(path, ENOENT, /*not_found=*/true);
  if (DirExistsLocked(path)) return PosixError(path, EISDIR);
  auto it = files_.find(path);
  if (it != files_.end() && options.exclusive) return PosixError(path, EEXIST);
  std::shared_ptr<File> file;
  if (it != files_.end()) {
    file = it->second;
    std::lock_guard<std::mutex> flock(file->mu);
    file->data.clear();
  } else {
    file = std::make_shared<File>();
    file->mode = options.mode;
    files_[path] = file;
  }
  out->reset(new MemWritableFile(path, std::move(file)));
  return Status::OK();
}

Status MemEnv::ReopenWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return PosixError(path, ENOENT, /*not_found=*/true);
  out->reset(new MemWritableFile(path, it->second));
  return Status::OK();
}

Status MemEnv::NewReadableFile(const std::string& path, const ReadableFileOptions& options,
                               std::unique_ptr<ReadableFile>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) {
    return PosixError(path, DirExistsLocked(path) ? EISDIR : ENOENT, /*not_found=*/true);
  }
  uint64_t size;
  {
    std::lock_guard<std::mutex> flock(it->second->mu);
    size = it->second->data.size();
  }
  out->reset(new MemReadableFile(path, it->second, size));
  return Status::OK();
}

Status MemEnv::GetChildren(const std::string& dir, std::vector<std::string>* names) {
  names->clear();
  std::lock_guard<std::mutex> lock(mu_);
  if (!DirExistsLocked(dir)) return PosixError(dir, ENOENT, /*not_found=*/true);
  const std::string prefix = dir == "/" ? dir : dir + "/";
  for (const auto& [path, file] : files_) {
    if (path.starts_with(prefix) && ParentDir(path) == dir)
      names->push_back(path.substr(prefix.size()));
  }
  for (const std::string& d : dirs_) {
    if (d != dir && d.starts_with(prefix) && ParentDir(d) == dir) {
      names->push_back(d.substr(prefix.size()));
    }
  }
  return Status::OK();
}

Status MemEnv::Stat(const std::string& path, FileStat* out) {
  std::lock_guard<std::mutex> lock(mu_);
  *out = FileStat();
  if (DirExistsLocked(path)) {
    out->is_directory = true;
    return Status::OK();
  }
  auto it = files_.find(path);
  if (it == files_.end()) return PosixError(path, ENOENT, /*not_found=*/true);
  std::lock_guard<std::mutex> flock(it->second->mu);
  out->size = it->second->data.size();
  out->is_regular = true;
  return Status::OK();
}

Status MemEnv::CreateDir(const std::string& dir, int mode) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::string d = dir; !DirExistsLocked(d); d = ParentDir(d)) {
    if (files_.count(d) != 0) return PosixError(dir, ENOTDIR);
    dirs_.insert(d);
  }
  return Status::OK();
}

Status MemEnv::RemoveFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (DirExistsLocked(path)) return PosixError(path, EISDIR);
  if (files_.erase(path) == 0) return PosixError(path, ENOENT, /*not_found=*/true);
  return Status::OK();
}

Status MemEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return PosixError(to, ENOENT, /*not_found=*/true);
  if (!DirExistsLocked(ParentDir(to))) return PosixError(to, ENOENT, /*not_found=*/true);
  if (DirExistsLocked(to)) return PosixError(to, EISDIR);
  if (from == to) return Status::OK();
  std::shared_ptr<File> file = it->second;
  files_.erase(it);
  files_[to] = std::move(file);
  return Status::OK();
}

Status MemEnv::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!DirExistsLocked(dir)) return PosixError(dir, ENOENT, /*not_found=*/true);
  return Status::OK();
}

int MemEnv::FileMode(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? -1 : it->second->mode;
}

}  // namespace taskring::io
