#include "wal/dead_letter_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "wal/wal_record.h"
#include "wal/wal_segment.h"

namespace taskring::wal {
namespace {

constexpr const char* kSuffix = ".dead";
constexpr const char* kTempPrefix = ".tmp-";
constexpr size_t kIdDigits = 20;
// Magic, checksum, length, fixed body fields and the largest payload: anything bigger is not
// a dead letter, and is refused before it is read into memory.
constexpr uint64_t kMaxFileBytes = 16 + 38 + kMaxPayloadBytes;

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

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(OsErrorMessage("cannot write dead letter", path, errno));
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

}  // namespace

Status DeadLetterStore::Open(const std::string& wal_dir, int file_mode, bool create,
                             std::unique_ptr<DeadLetterStore>* out) {
  const std::string dir = wal_dir + "/dead";
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IOError(OsErrorMessage("cannot stat", dir, errno));
    if (!create) return Status::NotFound("no dead letters at " + dir);
    const mode_t mode = (file_mode & 0070) != 0 ? 0750 : 0700;
    if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
      return Status::IOError(OsErrorMessage("cannot create", dir, errno));
    }
    ::chmod(dir.c_str(), mode);  // umask may have narrowed it
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::IOError(dir + " is not a directory");
  }
  out->reset(new DeadLetterStore(dir, file_mode));
  return Status::OK();
}

std::string DeadLetterStore::PathOf(uint64_t job_id) const { return dir_ + "/" + FileName(job_id); }

Status DeadLetterStore::Write(const DeadLetter& letter) {
  std::string data;
  EncodeDeadLetter(letter, &data);
  const std::string path = PathOf(letter.job_id);
  const std::string temp = dir_ + "/" + kTempPrefix + FileName(letter.job_id);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        static_cast<mode_t>(file_mode_));
  if (fd < 0) return Status::IOError(OsErrorMessage("cannot create dead letter", temp, errno));
  Status s = WriteAll(fd, data, temp);
  if (s.ok() && ::fdatasync(fd) != 0) {
    s = Status::IOError(OsErrorMessage("cannot sync dead letter", temp, errno));
  }
  ::close(fd);
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    s = Status::IOError(OsErrorMessage("cannot rename dead letter to", path, errno));
  }
  if (!s.ok()) ::unlink(temp.c_str());
  return s;
}

Status DeadLetterStore::SyncDir() { return wal::SyncDir(dir_); }

Status DeadLetterStore::Read(uint64_t job_id, DeadLetter* out) const {
  const std::string path = PathOf(job_id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return Status::NotFound("no dead letter for job " + std::to_string(job_id));
    return Status::IOError(OsErrorMessage("cannot open", path, errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    return Status::Corruption(path + ": not a dead-letter file");
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(done);
  DeadLetter letter;
  Status s = DecodeDeadLetter(data, &letter);
  if (!s.ok()) return Status::Corruption(path + ": " + std::string(s.message()));
  if (letter.job_id != job_id) return Status::Corruption(path + ": holds another job's id");
  *out = std::move(letter);
  return Status::OK();
}

Status DeadLetterStore::List(std::vector<uint64_t>* ids) const {
  ids->clear();
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return Status::IOError(OsErrorMessage("cannot read", dir_, errno));
  while (const dirent* e = ::readdir(d)) {
    uint64_t id = 0;
    if (ParseFileName(e->d_name, &id)) ids->push_back(id);
  }
  ::closedir(d);
  std::sort(ids->begin(), ids->end());
  return Status::OK();
}

Status DeadLetterStore::Remove(uint64_t job_id) {
  const std::string path = PathOf(job_id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT)
      return Status::NotFound("no dead letter for job " + std::to_string(job_id));
    return Status::IOError(OsErrorMessage("cannot remove", path, errno));
  }
  return Status::OK();
}

void DeadLetterStore::RemoveTempFiles() {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return;
  std::vector<std::string> temps;
  while (const dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, kTempPrefix, std::strlen(kTempPrefix)) == 0) {
      temps.emplace_back(dir_ + "/" + e->d_name);
    }
  }
  ::closedir(d);
  for (const std::string& t : temps) ::unlink(t.c_str());
}

}  // namespace taskring::wal
