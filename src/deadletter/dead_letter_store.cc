#include "deadletter/dead_letter_store.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "wal/wal_record.h"

namespace taskring::deadletter {
namespace {

constexpr const char* kSuffix = ".dead";
constexpr const char* kTempPrefix = ".tmp-";
constexpr size_t kIdDigits = 20;
// Magic, checksum, length, fixed body fields and the largest payload: anything bigger is not
// a dead letter, and is refused before it is read into memory.
constexpr uint64_t kMaxFileBytes = 16 + 38 + wal::kMaxPayloadBytes;

std::string FileName(uint64_t job_id) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020" PRIu64 "%s", job_id, kSuffix);
  return name;
}

bool ParseFileName(const char* name, uint64_t* job_id) {
  if (std::strlen(name) != kIdDigits + std::strlen(kSuffix)) return false;
  if (std::strcmp(name + kIdDigits, kSuffix) != 0) return false;
  uint64_t id = 0;
  for (size_t i = 0; i < kIdDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    if (id > (UINT64_MAX - 9) / 10) return false;
    id = id * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *job_id = id;
  return true;
}

}  // namespace

Status DeadLetterStore::Open(const std::string& wal_dir, int file_mode, bool create,
                             std::unique_ptr<DeadLetterStore>* out, io::Env* env) {
  const std::string dir = wal_dir + "/dead";
  io::FileStat st;
  Status s = env->Stat(dir, &st);
  if (s.IsNotFound()) {
    if (!create) return Status::NotFound("no dead letters at " + dir);
    const int mode = (file_mode & 0070) != 0 ? 0750 : 0700;
    s = env->CreateDir(dir, mode);
    if (!s.ok()) return io::Annotate("cannot create", s);
  } else if (!s.ok()) {
    return io::Annotate("cannot stat", s);
  } else if (!st.is_directory) {
    return Status::IOError(dir + " is not a directory");
  }
  out->reset(new DeadLetterStore(dir, file_mode, env));
  return Status::OK();
}

std::string DeadLetterStore::PathOf(uint64_t job_id) const { return dir_ + "/" + FileName(job_id); }

Status DeadLetterStore::Write(const DeadLetter& letter) {
  std::string data;
  EncodeDeadLetter(letter, &data);
  const std::string path = PathOf(letter.job_id);
  const std::string temp = dir_ + "/" + kTempPrefix + FileName(letter.job_id);
  io::WritableFileOptions wopts;
  wopts.mode = file_mode_;
  std::unique_ptr<io::WritableFile> file;
  Status s = env_->NewWritableFile(temp, wopts, &file);
  if (!s.ok()) return io::Annotate("cannot create dead letter", s);
  s = io::Annotate("cannot write dead letter", file->Write(0, data));
  if (s.ok()) s = io::Annotate("cannot sync dead letter", file->DataSync());
  (void)file->Close();
  file.reset();
  if (s.ok()) s = io::Annotate("cannot rename dead letter to", env_->RenameFile(temp, path));
  if (!s.ok()) (void)env_->RemoveFile(temp);
  return s;
}

Status DeadLetterStore::SyncDir() { return io::Annotate("cannot sync", env_->SyncDir(dir_)); }

Status DeadLetterStore::Read(uint64_t job_id, DeadLetter* out) const {
  const std::string path = PathOf(job_id);
  io::ReadableFileOptions ropts;
  ropts.no_follow = true;
  std::unique_ptr<io::ReadableFile> file;
  Status s = env_->NewReadableFile(path, ropts, &file);
  if (s.IsNotFound()) return Status::NotFound("no dead letter for job " + std::to_string(job_id));
  if (!s.ok()) return io::Annotate("cannot open", s);
  if (!file->IsRegular() || file->Size() > kMaxFileBytes) {
    return Status::Corruption(path + ": not a dead-letter file");
  }
  std::string data(static_cast<size_t>(file->Size()), '\0');
  size_t got = 0;
  (void)file->Read(0, data.size(), data.data(), &got);  // a short read fails to decode below
  file.reset();
  data.resize(got);
  DeadLetter letter;
  s = DecodeDeadLetter(data, &letter);
  if (!s.ok()) return Status::Corruption(path + ": " + std::string(s.message()));
  if (letter.job_id != job_id) return Status::Corruption(path + ": holds another job's id");
  *out = std::move(letter);
  return Status::OK();
}

Status DeadLetterStore::List(std::vector<uint64_t>* ids) const {
  ids->clear();
  std::vector<std::string> names;
  Status s = env_->GetChildren(dir_, &names);
  if (!s.ok()) return io::Annotate("cannot read", s);
  for (const std::string& name : names) {
    uint64_t id = 0;
    if (ParseFileName(name.c_str(), &id)) ids->push_back(id);
  }
  std::sort(ids->begin(), ids->end());
  return Status::OK();
}

Status DeadLetterStore::Remove(uint64_t job_id) {
  Status s = env_->RemoveFile(PathOf(job_id));
  if (s.IsNotFound()) return Status::NotFound("no dead letter for job " + std::to_string(job_id));
  return io::Annotate("cannot remove", s);
}

void DeadLetterStore::RemoveTempFiles() {
  std::vector<std::string> names;
  if (!env_->GetChildren(dir_, &names).ok()) return;
  for (const std::string& name : names) {
    if (name.starts_with(kTempPrefix)) (void)env_->RemoveFile(dir_ + "/" + name);
  }
}

}  // namespace taskring::deadletter
