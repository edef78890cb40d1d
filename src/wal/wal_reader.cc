#include "wal/wal_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "wal/wal_segment.h"
#include "wal/wal_segment_parser.h"

namespace taskring::wal {
namespace {

Status ReadWholeFile(const std::string& path, std::string* out) {
  out->clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(OsErrorMessage("cannot open WAL segment", path, errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IOError(OsErrorMessage("cannot stat WAL segment", path, err));
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t r = ::read(fd, out->data() + got, out->size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::IOError(OsErrorMessage("cannot read WAL segment", path, err));
    }
    if (r == 0) break;  // shrank under us: parse what is there
    got += static_cast<size_t>(r);
  }
  out->resize(got);
  ::close(fd);
  return Status::OK();
}

Status TruncateFile(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(OsErrorMessage("cannot open torn WAL segment", path, errno));
  int err = 0;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    err = errno;
  } else if (::fsync(fd) != 0) {
    // Durable before a newer segment can exist, or the torn region would become mid-log
    // corruption after a host crash.
    err = errno;
  }
  ::close(fd);
  if (err != 0)
    return Status::IOError(OsErrorMessage("cannot truncate torn WAL segment", path, err));
  return Status::OK();
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

class Walker {
 public:
  Walker(const ReplayOptions& options, bool read_only,
         const std::function<Status(const WalRecord&)>* fn, ReplayReport* report)
      : options_(options), read_only_(read_only), fn_(fn), report_(report) {}

  Status Run(const std::string& dir) {
    std::vector<SegmentFile> segments;
    Status s = ListSegments(dir, &segments);
    if (!s.ok()) return s;
    report_->segments = segments.size();
    if (segments.empty()) return Status::OK();
    report_->highest_segment = segments.back().number;

    // Trailing empty files (a writer that died right after creating its segment) do not make
    // the segment before them any less "last".
    size_t last = segments.size();
    for (size_t i = segments.size(); i-- > 0;) {
      struct stat st;
      if (::stat(segments[i].path.c_str(), &st) == 0 && st.st_size > 0) {
        last = i;
        break;
      }
    }
    std::string data;
    for (size_t i = 0; i < segments.size(); ++i) {
      s = ReadWholeFile(segments[i].path, &data);
      if (!s.ok()) return s;
      report_->segment_in_progress = segments[i].number;
      s = WalkSegment(segments[i].path, data, i == last);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

 private:
  Status WalkSegment(const std::string& path, std::string_view data, bool is_last) {
    // Pass 1: where the last complete valid record ends decides which damage is a tail.
    uint64_t last_end = 0;
    SegmentParser::Item item;
    {
      SegmentParser parser(data);
      while (parser.Next(&item)) {
        if (item.kind == SegmentParser::Item::Kind::kRecord) last_end = item.end;
      }
    }

    SegmentParser parser(data);
    while (parser.Next(&item)) {
      if (item.kind == SegmentParser::Item::Kind::kDamage) {
        if (item.offset >= last_end) return HandleTail(path, data, last_end, item, is_last);
        Status s = Problem(path, item.offset, item.reason);
        if (!s.ok()) return s;
        continue;
      }
      Status s = Deliver(path, item);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  Status Deliver(const std::string& path, const SegmentParser::Item& item) {
    Status s = DecodeRecord(item.data, &record_);
    if (!s.ok())
      return Problem(path, item.offset, "undecodable record: " + std::string(s.message()));
    if (have_lsn_ && record_.lsn <= report_->last_lsn) {
      return Problem(path, item.offset,
                     "LSN " + std::to_string(record_.lsn) + " does not follow LSN " +
                         std::to_string(report_->last_lsn));
    }
    if (fn_ != nullptr && *fn_) {
      s = (*fn_)(record_);
      if (!s.ok()) return s;
    }
    have_lsn_ = true;
    report_->last_lsn = record_.lsn;
    ++report_->records;
    return Status::OK();
  }

  // Damage with no complete record after it in this segment.
  Status HandleTail(const std::string& path, std::string_view data, uint64_t last_end,
                    const SegmentParser::Item& damage, bool is_last) {
    if (AllZero(data.substr(last_end))) return Status::OK();  // preallocated / zero-filled end
    if (!is_last) {
      return Problem(path, damage.offset,
                     damage.reason + " at the end of a segment that is not the last");
    }
    report_->torn_tail_bytes = data.size() - last_end;
    report_->torn_tail_file = path;
    if (read_only_ || !options_.truncate_torn_tail) return Status::OK();
    return TruncateFile(path, last_end);
  }

  Status Problem(const std::string& path, uint64_t offset, const std::string& what) {
    std::string line = path + ":" + std::to_string(offset) + ": " + what;
    report_->problems.push_back(line);
    if (read_only_ || !options_.salvage) return Status::Corruption(line);
    return Status::OK();
  }

  const ReplayOptions options_;
  const bool read_only_;
  const std::function<Status(const WalRecord&)>* fn_;
  ReplayReport* report_;
  bool have_lsn_ = false;
  WalRecord record_;  // reused so payload capacity is recycled
};

}  // namespace

Status ReplayWal(const std::string& dir, const ReplayOptions& options,
                 const std::function<Status(const WalRecord&)>& fn, ReplayReport* report) {
  *report = ReplayReport();
  return Walker(options, /*read_only=*/false, &fn, report).Run(dir);
}

Status VerifyWal(const std::string& dir, ReplayReport* report) {
  *report = ReplayReport();
  ReplayOptions options;
  options.truncate_torn_tail = false;
  options.salvage = false;
  return Walker(options, /*read_only=*/true, nullptr, report).Run(dir);
}

}  // namespace taskring::wal
