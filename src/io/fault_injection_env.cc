#include "io/fault_injection_env.h"

#include <algorithm>

namespace taskring::io {
namespace {

Status WriteWholeFile(Env* env, const std::string& path, const std::string& content) {
  std::unique_ptr<WritableFile> file;
  Status s = env->NewWritableFile(path, WritableFileOptions{}, &file);
  if (s.ok()) s = file->Write(0, content);
  if (s.ok()) s = file->Close();
  return s;
}

}  // namespace

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> target)
      : env_(env), target_(std::move(target)) {}

  Status Write(uint64_t offset, std::string_view data) override {
    size_t partial = 0;
    Status fault = env_->MaybeFail(FaultInjectionEnv::Op::kWrite, path(), &partial);
    if (!fault.ok()) {
      partial = std::min(partial, data.size());
      if (partial > 0) (void)env_->TrackedWrite(target_.get(), offset, data.substr(0, partial));
      return fault;
    }
    return env_->TrackedWrite(target_.get(), offset, data);
  }
  Status Truncate(uint64_t size) override {
    Status s = env_->MaybeFail(FaultInjectionEnv::Op::kTruncate, path());
    if (s.ok()) s = target_->Truncate(size);
    if (s.ok()) env_->Truncated(path(), size);
    return s;
  }
  // A sync covers what was written before it began: bytes written meanwhile (another thread
  // may write while one syncs) are not known to be durable.
  Status DataSync() override {
    const FaultInjectionEnv::SyncMark mark = env_->MarkSync(path());
    Status s = env_->MaybeFail(FaultInjectionEnv::Op::kSync, path());
    if (s.ok()) s = target_->DataSync();
    if (s.ok()) env_->Synced(path(), mark);
    return s;
  }
  Status Sync() override {
    const FaultInjectionEnv::SyncMark mark = env_->MarkSync(path());
    Status s = env_->MaybeFail(FaultInjectionEnv::Op::kSync, path());
    if (s.ok()) s = target_->Sync();
    if (s.ok()) env_->Synced(path(), mark);
    return s;
  }
  Status Close() override { return target_->Close(); }
  const std::string& path() const override { return target_->path(); }

 private:
  FaultInjectionEnv* const env_;
  const std::unique_ptr<WritableFile> target_;
};

FaultInjectionEnv::FaultInjectionEnv(Env* target) : target_(target) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

void FaultInjectionEnv::Inject(const Fault& fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(fault);
}

void FaultInjectionEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

int FaultInjectionEnv::injected_failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return injected_;
}

Status FaultInjectionEnv::MaybeFail(Op op, const std::string& path, size_t* partial) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Fault& f : faults_) {
    if (f.op != op || path.find(f.path_contains) == std::string::npos) continue;
    if (f.skip > 0) {
      --f.skip;
      continue;
    }
    if (f.times == 0) continue;
    if (f.times > 0) --f.times;
    ++injected_;
    if (partial != nullptr) *partial = f.partial_bytes;
    return PosixError(path, f.error);
  }
  return Status::OK();
}

void FaultInjectionEnv::Truncated(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  FileState& st = files_[path];
  st.size = size;
  // The cut itself is not durable yet, but what it removed can only be lost, never come back
  // as anything a reader would trust more than before: keep the model simple.
  st.synced = std::min(st.synced, size);
}

Status FaultInjectionEnv::TrackedWrite(WritableFile* target, uint64_t offset,
                                       std::string_view data) {
  const std::string& path = target->path();
  std::lock_guard<std::mutex> lock(mu_);
  FileState& st = files_[path];
  if (offset < st.synced && !data.empty()) {
    const uint64_t n = std::min<uint64_t>(data.size(), st.synced - offset);
    std::string old;
    std::unique_ptr<ReadableFile> in;
    size_t got = 0;
    old.resize(n);
    if (target_->NewReadableFile(path, {}, &in).ok() &&
        in->Read(offset, n, old.data(), &got).ok()) {
      old.resize(got);
      st.undo.emplace_back(offset, std::move(old));
    }
  }
  Status s = target->Write(offset, data);
  // A failed write may have left a prefix we cannot measure: DropUnsyncedData() cuts by the
  // file's real size, so it goes too.
  st.size = std::max(st.size, offset + (s.ok() ? data.size() : 0));
  return s;
}

FaultInjectionEnv::SyncMark FaultInjectionEnv::MarkSync(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  const FileState& st = files_[path];
  return SyncMark{st.size, st.undo.size()};
}

void FaultInjectionEnv::Synced(const std::string& path, const SyncMark& mark) {
  std::lock_guard<std::mutex> lock(mu_);
  FileState& st = files_[path];
  st.synced = std::max(st.synced, std::min(mark.size, st.size));
  // Overwrites made before the sync began are durable now; later ones still have their undo.
  st.undo.erase(st.undo.begin(),
                st.undo.begin() + static_cast<std::ptrdiff_t>(std::min(mark.undo, st.undo.size())));
}

std::string FaultInjectionEnv::DurableContentLocked(const std::string& path) {
  std::string content;
  if (!ReadFileToString(target_, path, &content).ok()) return {};
  auto it = files_.find(path);
  if (it == files_.end()) return content;
  const FileState& st = it->second;
  for (auto u = st.undo.rbegin(); u != st.undo.rend(); ++u) {
    if (u->first < content.size()) {
      content.replace(u->first, std::min(u->second.size(), content.size() - u->first), u->second);
    }
  }
  if (content.size() > st.synced) content.resize(st.synced);
  return content;
}

uint64_t FaultInjectionEnv::UnsyncedBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& [path, st] : files_) {
    n += st.size > st.synced ? st.size - st.synced : 0;
    for (const auto& [offset, old] : st.undo) n += old.size();
  }
  return n;
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  Status result;
  auto note = [&result](const Status& s) {
    if (result.ok() && !s.ok() && !s.IsNotFound()) result = s;
  };
  for (const auto& [path, st] : files_) {
    FileStat fs;
    if (!target_->Stat(path, &fs).ok() || (fs.size <= st.synced && st.undo.empty())) continue;
    std::unique_ptr<WritableFile> file;
    Status s = target_->ReopenWritableFile(path, &file);
    // Newest first, so the bytes a range had at the last sync are the ones written back last.
    for (auto u = st.undo.rbegin(); s.ok() && u != st.undo.rend(); ++u) {
      s = file->Write(u->first, u->second);
    }
    if (s.ok() && fs.size > st.synced) s = file->Truncate(st.synced);
    if (s.ok()) s = file->Close();
    note(s);
  }
  for (auto& [dir, ops] : dirs_) {
    for (auto op = ops.rbegin(); op != ops.rend(); ++op) {
      switch (op->kind) {
        case DirOp::Kind::kCreate: note(target_->RemoveFile(op->path)); break;
        case DirOp::Kind::kRename:
          note(target_->RenameFile(op->path, op->from));
          if (op->restore) note(WriteWholeFile(target_, op->path, op->content));
          break;
        case DirOp::Kind::kRemove: note(WriteWholeFile(target_, op->path, op->content)); break;
      }
    }
  }
  files_.clear();
  dirs_.clear();
  return result;
}

Status FaultInjectionEnv::NewWritableFile(const std::string& path,
                                          const WritableFileOptions& options,
                                          std::unique_ptr<WritableFile>* out) {
  Status s = MaybeFail(Op::kCreate, path);
  if (!s.ok()) return s;
  FileStat fs;
  const bool existed = target_->Stat(path, &fs).ok();
  std::unique_ptr<WritableFile> file;
  s = target_->NewWritableFile(path, options, &file);
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    files_[path] = FileState{};
    if (!existed)
      dirs_[ParentDir(path)].push_back(DirOp{DirOp::Kind::kCreate, path, {}, false, {}});
  }
  out->reset(new FaultWritableFile(this, std::move(file)));
  return Status::OK();
}

Status FaultInjectionEnv::ReopenWritableFile(const std::string& path,
                                             std::unique_ptr<WritableFile>* out) {
  std::unique_ptr<WritableFile> file;
  Status s = target_->ReopenWritableFile(path, &file);
  if (!s.ok()) return s;
  FileStat fs;
  if (target_->Stat(path, &fs).ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (files_.count(path) == 0) files_[path] = FileState{fs.size, fs.size, {}};
  }
  out->reset(new FaultWritableFile(this, std::move(file)));
  return Status::OK();
}

Status FaultInjectionEnv::NewReadableFile(const std::string& path,
                                          const ReadableFileOptions& options,
                                          std::unique_ptr<ReadableFile>* out) {
  return target_->NewReadableFile(path, options, out);
}

Status FaultInjectionEnv::GetChildren(const std::string& dir, std::vector<std::string>* names) {
  return target_->GetChildren(dir, names);
}

Status FaultInjectionEnv::Stat(const std::string& path, FileStat* out) {
  return target_->Stat(path, out);
}

Status FaultInjectionEnv::CreateDir(const std::string& dir, int mode) {
  return target_->CreateDir(dir, mode);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  Status s = MaybeFail(Op::kRemove, path);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  std::string content = DurableContentLocked(path);
  s = target_->RemoveFile(path);
  if (!s.ok()) return s;
  files_.erase(path);
  dirs_[ParentDir(path)].push_back(DirOp{DirOp::Kind::kRemove, path, {}, true, std::move(content)});
  return Status::OK();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  Status s = MaybeFail(Op::kRename, to);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  FileStat fs;
  const bool had_to = target_->Stat(to, &fs).ok();
  std::string old = had_to ? DurableContentLocked(to) : std::string();
  s = target_->RenameFile(from, to);
  if (!s.ok()) return s;
  files_.erase(to);
  if (auto it = files_.find(from); it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  }
  dirs_[ParentDir(to)].push_back(DirOp{DirOp::Kind::kRename, to, from, had_to, std::move(old)});
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  Status s = MaybeFail(Op::kSyncDir, dir);
  if (s.ok()) s = target_->SyncDir(dir);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.erase(dir);
  }
  return s;
}

}  // namespace taskring::io
