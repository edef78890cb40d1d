#include "wal/wal_writer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "util/coding.h"
#include "util/crc32c.h"
#include "wal/wal_format.h"
#include "wal/wal_segment.h"

namespace taskring::wal {

Status WalWriter::Open(const std::string& dir, const WalWriterOptions& options, uint64_t next_lsn,
                       std::unique_ptr<WalWriter>* out) {
  std::vector<SegmentFile> segments;
  Status s = ListSegments(dir, &segments, options.env);
  if (!s.ok()) return Status::IOError(s.message());

  std::unique_ptr<WalWriter> writer(new WalWriter(dir, options, next_lsn));
  const uint64_t number = segments.empty() ? 1 : segments.back().number + 1;
  s = writer->OpenSegment(number);
  writer->tail_segment_ = number;
  if (!s.ok()) return s;
  *out = std::move(writer);
  return Status::OK();
}

WalWriter::WalWriter(std::string dir, const WalWriterOptions& options, uint64_t next_lsn)
    : dir_(std::move(dir)), options_(options), env_(options.env), next_lsn_(next_lsn) {}

WalWriter::~WalWriter() = default;

Status WalWriter::OpenSegment(uint64_t number) {
  const std::string path = SegmentPath(dir_, number);
  // Exclusive: never reuse a file, whatever its content.
  io::WritableFileOptions fopts;
  fopts.exclusive = true;
  fopts.mode = options_.file_mode;
  fopts.exact_mode = true;
  std::unique_ptr<io::WritableFile> file;
  Status s = env_->NewWritableFile(path, fopts, &file);
  if (!s.ok()) return io::Annotate("cannot create WAL segment", s);
  // Without this the new directory entry, and so every record in the file, can vanish in a
  // host crash even after the file itself was fdatasynced. Sticky, by the rule in io/env.h.
  s = env_->SyncDir(dir_);
  if (!s.ok()) {
    sync_error_ = io::Annotate("cannot sync WAL directory", s);
    return sync_error_;
  }
  file_ = std::move(file);  // closes the previous segment
  path_ = path;
  segment_number_ = number;
  file_size_ = 0;
  prewritten_end_ = 0;
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
  const uint64_t step = options_.prewrite_bytes;
  Status s;
  if (step != 0 && file_size_ + bytes.size() > prewritten_end_) {
    // Zeros ahead of the records; the next sync makes them durable with the records.
    const uint64_t target = (file_size_ + bytes.size() + step - 1) / step * step + step;
    static const std::string kZeros(1 << 20, '\0');
    for (uint64_t at = prewritten_end_; s.ok() && at < target;) {
      const uint64_t n = std::min<uint64_t>(target - at, kZeros.size());
      s = file_->Write(at, std::string_view(kZeros.data(), n));
      at += n;
    }
    if (s.ok()) prewritten_end_ = target;
  }
  if (s.ok()) s = file_->Write(file_size_, bytes);
  if (!s.ok()) {
    // Cut off any partial tail (and the zeros) so the file ends at a record boundary. If that
    // fails too, the retry still writes at file_size_ and overwrites it with the same bytes.
    (void)file_->Truncate(file_size_);
    prewritten_end_ = file_size_;
    return io::Annotate("cannot write WAL segment", s);
  }
  file_size_ += bytes.size();
  bytes_written_ += bytes.size();
  return Status::OK();
}

bool WalWriter::rotation_pending() const {
  for (const Chunk& c : pending_) {
    if (c.new_segment) return true;
  }
  return false;
}

void WalWriter::SyncFinished(const Status& s) {
  if (!s.ok()) {
    if (sync_error_.ok()) sync_error_ = io::Annotate("cannot sync WAL segment", s);
    return;
  }
  ++syncs_;
}

Status WalWriter::Sync() {
  if (!sync_error_.ok()) return sync_error_;
  return SyncFile();
}

Status WalWriter::SyncFile() {
  Status s = file_->DataSync();
  if (!s.ok()) {
    sync_error_ = io::Annotate("cannot sync WAL segment", s);
    return sync_error_;
  }
  ++syncs_;
  return Status::OK();
}

}  // namespace taskring::wal
