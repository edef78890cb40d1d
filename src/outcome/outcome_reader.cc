#include "outcome/outcome_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace taskring::outcome {
namespace {

// One read holds any head (asserted), so a status poll costs one pread.
constexpr size_t kHeadRead = 4096;
static_assert(kHeadRead >= kMaxOutcomeHeadFrame);
// What a scan without an index reads at a time.
constexpr size_t kScanChunk = 1 << 20;

Status OsError(const std::string& what, int err) {
  return Status::IOError(what + ": " + std::strerror(err));
}

// An open file, closed on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads up to n bytes at offset; *got < n only at the end of the file.
Status ReadFully(int fd, const std::string& path, uint64_t offset, size_t n, char* buf,
                 size_t* got) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return OsError("cannot read " + path, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  *got = done;
  return Status::OK();
}

// Opens a data file read-only; NotFound when it is gone (deleted by expiry or the byte bound).
Status OpenFile(const std::string& path, int* fd, uint64_t* size) {
  const int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (f < 0) {
    if (errno == ENOENT) return Status::NotFound(path + " is gone");
    return OsError("cannot open " + path, errno);
  }
  struct stat st {};
  if (::fstat(f, &st) != 0) {
    const int err = errno;
    ::close(f);
    return OsError("cannot stat " + path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(f);
    return Status::Corruption(path + ": not a regular file");
  }
  *fd = f;
  *size = static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

Status NotFoundFor(uint64_t job_id, std::string_view why) {
  return Status::NotFound("no outcome for job " + std::to_string(job_id) + std::string(why));
}

Status Damaged(const std::string& path, uint64_t offset, const Status& s) {
  return Status::Corruption(path + ": offset " + std::to_string(offset) + ": " +
                            std::string(s.message()));
}

// A window on a file for a sequential scan: Want() makes [pos, pos + n) readable (less at the
// end of the file) with as few preads as the chunk size allows.
class Window {
 public:
  Window(int fd, const std::string& path, uint64_t size) : fd_(fd), path_(path), size_(size) {}

  Status Want(uint64_t pos, size_t n, std::string_view* out) {
    if (pos >= size_) {
      *out = std::string_view();
      return Status::OK();
    }
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos));
    if (pos < start_ || pos + n > start_ + bytes_.size()) {
      const size_t len =
          static_cast<size_t>(std::min<uint64_t>(std::max(n, kScanChunk), size_ - pos));
      bytes_.resize(len);
      size_t got = 0;
      Status s = ReadFully(fd_, path_, pos, len, bytes_.data(), &got);
      if (!s.ok()) return s;
      bytes_.resize(got);  // the file shrank: what is there
      start_ = pos;
    }
    const size_t at = static_cast<size_t>(pos - start_);
    *out = std::string_view(bytes_).substr(at, std::min(n, bytes_.size() - at));
    return Status::OK();
  }

 private:
  int fd_;
  const std::string& path_;
  uint64_t size_;
  uint64_t start_ = 0;
  std::string bytes_;
};

}  // namespace

OutcomeReader::OutcomeReader(std::string outcome_dir, OutcomeIndex index)
    : dir_(std::move(outcome_dir)), index_(index) {}

Status OutcomeReader::Find(uint64_t job_id, bool with_result, OutcomeRecord* out,
                           uint32_t* result_len) const {
  if (job_id == 0) return NotFoundFor(job_id, "");
  uint32_t file = 0;
  uint64_t offset = 0;
  if (index_.valid()) {
    const uint64_t loc = index_.Find(job_id);
    if (loc == 0) return NotFoundFor(job_id, "");
    file = LocFile(loc);
    offset = LocOffset(loc);
  } else {
    Status s = Scan(job_id, &file, &offset);
    if (!s.ok()) return s;
  }
  return ReadAt(file, offset, job_id, with_result, out, result_len);
}

Status OutcomeReader::ReadAt(uint32_t file, uint64_t offset, uint64_t job_id, bool with_result,
                             OutcomeRecord* out, uint32_t* result_len_out) const {
  const std::string path = dir_ + "/" + OutcomeFileName(file);
  int raw_fd = -1;
  uint64_t size = 0;
  Status s = OpenFile(path, &raw_fd, &size);
  if (s.IsNotFound()) return NotFoundFor(job_id, " (expired or evicted)");
  if (!s.ok()) return s;
  Fd fd(raw_fd);
  // Only a stale or scribbled index entry points outside the records: as if there were none.
  if (offset < kOutcomeFileHeaderSize || offset >= size) {
    return NotFoundFor(job_id, " (stale index entry)");
  }

  char head[kHeadRead];
  size_t got = 0;
  s = ReadFully(fd.get(), path, offset,
                static_cast<size_t>(std::min<uint64_t>(kHeadRead, size - offset)), head, &got);
  if (!s.ok()) return s;
  OutcomeRecord rec;
  uint32_t result_len = 0;
  uint64_t record_size = 0;
  s = DecodeOutcomeHead(std::string_view(head, got), &rec, &result_len, &record_size);
  if (!s.ok()) return Damaged(path, offset, s);
  if (rec.job_id != job_id) return NotFoundFor(job_id, " (stale index entry)");
  if (record_size > size - offset) {
    return Damaged(path, offset,
                   Status::Corruption("record of " + std::to_string(record_size) +
                                      " bytes cut by the end of the file"));
  }
  if (with_result) {
    const uint64_t result_at = record_size - result_len - kOutcomeTrailerSize;
    const size_t want = size_t{result_len} + kOutcomeTrailerSize;
    if (record_size <= got) {
      s = DecodeOutcomeResult(std::string_view(head + result_at, want), result_len, &rec.result);
    } else {
      std::string bytes(want, '\0');
      size_t n = 0;
      s = ReadFully(fd.get(), path, offset + result_at, want, bytes.data(), &n);
      if (!s.ok()) return s;
      bytes.resize(n);
      s = DecodeOutcomeResult(bytes, result_len, &rec.result);
    }
    if (!s.ok()) return Damaged(path, offset, s);
  }
  *out = std::move(rec);
  if (result_len_out != nullptr) *result_len_out = result_len;
  return Status::OK();
}

Status OutcomeReader::Scan(uint64_t job_id, uint32_t* file, uint64_t* offset) const {
  std::vector<uint32_t> numbers;
  {
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return NotFoundFor(job_id, " (no " + dir_ + ")");
      return OsError("cannot read " + dir_, errno);
    }
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      uint32_t n = 0;
      if (ParseOutcomeFileName(e->d_name, &n)) numbers.push_back(n);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return OsError("cannot read " + dir_, err);
  }
  // Newest first: the first file holding a record of the job holds its latest.
  std::sort(numbers.begin(), numbers.end(), std::greater<>());
  std::string header;
  EncodeOutcomeFileHeader(&header);
  std::string scratch;
  for (const uint32_t number : numbers) {
    const std::string path = dir_ + "/" + OutcomeFileName(number);
    int raw_fd = -1;
    uint64_t size = 0;
    Status s = OpenFile(path, &raw_fd, &size);
    if (s.IsNotFound() || s.IsCorruption()) continue;  // deleted since, or not a file
    if (!s.ok()) return s;
    Fd fd(raw_fd);
    Window window(fd.get(), path, size);
    std::string_view view;
    s = window.Want(0, kOutcomeFileHeaderSize, &view);
    if (!s.ok()) return s;
    if (view != header) continue;  // foreign, another version, or cut short: nothing to find
    // Record by record, as the store reads a file at start: the first damaged one ends it.
    uint64_t pos = kOutcomeFileHeaderSize;
    bool found = false;
    while (pos < size) {
      s = window.Want(pos, kMaxOutcomeHeadFrame, &view);
      if (!s.ok()) return s;
      OutcomeRecord rec;
      uint32_t result_len = 0;
      uint64_t record_size = 0;
      if (!DecodeOutcomeHead(view, &rec, &result_len, &record_size).ok() ||
          record_size > size - pos) {
        break;
      }
      s = window.Want(pos + record_size - result_len - kOutcomeTrailerSize,
                      size_t{result_len} + kOutcomeTrailerSize, &view);
      if (!s.ok()) return s;
      if (!DecodeOutcomeResult(view, result_len, &scratch).ok()) break;
      if (rec.job_id == job_id) {
        *file = number;
        *offset = pos;
        found = true;
      }
      pos += record_size;
    }
    if (found) return Status::OK();
  }
  return NotFoundFor(job_id, "");
}

}  // namespace taskring::outcome
