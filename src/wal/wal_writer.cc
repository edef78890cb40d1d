#include "wal/wal_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "util/coding.h"
#include "util/crc32c.h"
#include "wal/wal_format.h"
#include "wal/wal_segment.h"

namespace taskring::wal {

namespace detail {
namespace {
PwriteFn g_pwrite = nullptr;
FdatasyncFn g_fdatasync = nullptr;
}  // namespace

void SetPwriteForTesting(PwriteFn fn) { g_pwrite = fn; }
void SetFdatasyncForTesting(FdatasyncFn fn) { g_fdatasync = fn; }
}  // namespace detail

namespace {

ssize_t DoPwrite(int fd, const void* buf, size_t n, off_t offset) {
  return detail::g_pwrite ? detail::g_pwrite(fd, buf, n, offset) : ::pwrite(fd, buf, n, offset);
}

int DoFdatasync(int fd) { return detail::g_fdatasync ? detail::g_fdatasync(fd) : ::fdatasync(fd); }

int RetryOnEintr(int (*fn)(int), int fd) {
  int r;
  do {
    r = fn(fd);
  } while (r != 0 && errno == EINTR);
  return r;
}

}  // namespace

Status WalWriter::Open(const std::string& dir, const WalWriterOptions& options, uint64_t next_lsn,
                       std::unique_ptr<WalWriter>* out) {
  std::vector<SegmentFile> segments;
  Status s = ListSegments(dir, &segments);
  if (!s.ok()) return Status::IOError(s.message());

  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Status::IOError(OsErrorMessage("cannot open WAL directory", dir, errno));

  std::unique_ptr<WalWriter> writer(new WalWriter(dir, options, next_lsn, dir_fd));
  const uint64_t number = segments.empty() ? 1 : segments.back().number + 1;
  s = writer->OpenSegment(number);
  writer->tail_segment_ = number;
  if (!s.ok()) return s;
  *out = std::move(writer);
  return Status::OK();
}

WalWriter::WalWriter(std::string dir, const WalWriterOptions& options, uint64_t next_lsn,
                     int dir_fd)
    : dir_(std::move(dir)), options_(options), dir_fd_(dir_fd), next_lsn_(next_lsn) {}

WalWriter::~WalWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Status WalWriter::OpenSegment(uint64_t number) {
  const std::string path = SegmentPath(dir_, number);
  // O_EXCL: never reuse a file, whatever its content.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options_.file_mode);
  if (fd < 0) return Status::IOError(OsErrorMessage("cannot create WAL segment", path, errno));
  if (::fchmod(fd, static_cast<mode_t>(options_.file_mode)) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Status::IOError(OsErrorMessage("cannot set mode of WAL segment", path, err));
  }
  // Without this the new directory entry, and so every record in the file, can vanish in a
  // host crash even after the file itself was fdatasynced.
  if (RetryOnEintr(::fsync, dir_fd_) != 0) {
    const int err = errno;
    ::close(fd);
    sync_error_ = Status::IOError(OsErrorMessage("cannot sync WAL directory", dir_, err));
    return sync_error_;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  path_ = path;
  segment_number_ = number;
  file_size_ = 0;
  return Status::OK();
}

uint64_t WalWriter::Add(WalRecord& rec) {
  rec.lsn = next_lsn_++;
  scratch_.clear();
  EncodeRecord(rec, &scratch_);
  if (tail_segment_size_ > 0 && tail_segment_size_ >= options_.segment_bytes) {
    pending_.push_back(Chunk{true, {}});
    tail_segment_size_ = 0;
    ++tail_segment_;
  } else if (pending_.empty()) {
    pending_.push_back(Chunk{false, {}});
  }
  AppendFragments(scratch_.data(), scratch_.size());
  return rec.lsn;
}

void WalWriter::AppendFragments(const char* data, size_t n) {
  std::string& out = pending_.back().bytes;
  const size_t before = out.size();
  bool begin = true;
  do {
    size_t block_offset = tail_segment_size_ % kBlockSize;
    const size_t leftover = kBlockSize - block_offset;
    if (leftover < kHeaderSize) {
      // Too small for a header: pad so the next header starts a block.
      out.append(leftover, '\0');
      tail_segment_size_ += leftover;
      block_offset = 0;
    }
    const size_t avail = kBlockSize - block_offset - kHeaderSize;
    const size_t fragment = std::min(n, avail);
    const bool end = fragment == n;
    const uint8_t type = begin && end ? kFullType
                         : begin      ? kFirstType
                         : end        ? kLastType
                                      : kMiddleType;
    char header[kHeaderSize];
    const char type_byte = static_cast<char>(type);
    uint32_t crc = util::crc32c::Value(&type_byte, 1);
    crc = util::crc32c::Extend(crc, data, fragment);
    util::EncodeFixed32(header, util::crc32c::Mask(crc));
    header[4] = static_cast<char>(fragment & 0xff);
    header[5] = static_cast<char>(fragment >> 8);
    header[6] = type_byte;
    out.append(header, kHeaderSize);
    out.append(data, fragment);
    tail_segment_size_ += kHeaderSize + fragment;
    data += fragment;
    n -= fragment;
    begin = false;
  } while (n > 0);
  buffered_bytes_ += out.size() - before;
}

Status WalWriter::Flush() {
  if (!sync_error_.ok()) return sync_error_;
  while (!pending_.empty()) {
    Chunk& chunk = pending_.front();
    if (chunk.new_segment) {
      // The old segment must be durable before a newer one exists: the reader treats damage in
      // any segment but the last as corruption, not as a torn tail.
      Status s = SyncFile();
      if (!s.ok()) return s;
      s = OpenSegment(segment_number_ + 1);
      if (!s.ok()) return s;
      chunk.new_segment = false;
    }
    if (!chunk.bytes.empty()) {
      Status s = WriteChunk(chunk.bytes);
      if (!s.ok()) return s;
    }
    buffered_bytes_ -= chunk.bytes.size();
    pending_.pop_front();
  }
  return Status::OK();
}

Status WalWriter::WriteChunk(const std::string& bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  off_t offset = static_cast<off_t>(file_size_);
  int err = 0;
  while (left > 0) {
    const ssize_t r = DoPwrite(fd_, p, left, offset);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (r == 0) {  // no progress and no errno: do not spin
      err = EIO;
      break;
    }
    p += r;
    left -= static_cast<size_t>(r);
    offset += r;
  }
  if (err != 0) {
    // Cut off the partial tail so the file ends at a record boundary. If that fails too, the
    // retry still writes at file_size_ (pwrite) and overwrites it with the same bytes or more.
    if (static_cast<uint64_t>(offset) != file_size_) {
      (void)::ftruncate(fd_, static_cast<off_t>(file_size_));
    }
    return Status::IOError(OsErrorMessage("cannot write WAL segment", path_, err));
  }
  file_size_ += bytes.size();
  bytes_written_ += bytes.size();
  return Status::OK();
}

Status WalWriter::Sync() {
  if (!sync_error_.ok()) return sync_error_;
  return SyncFile();
}

Status WalWriter::SyncFile() {
  if (RetryOnEintr(DoFdatasync, fd_) != 0) {
    sync_error_ = Status::IOError(OsErrorMessage("cannot sync WAL segment", path_, errno));
    return sync_error_;
  }
  ++syncs_;
  return Status::OK();
}

}  // namespace taskring::wal
