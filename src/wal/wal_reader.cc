#include "wal/wal_reader.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "wal/wal_segment.h"
#include "wal/wal_segment_parser.h"

namespace taskring::wal {
namespace {

Status ReadWholeFile(io::Env* env, const std::string& path, std::string* out) {
  return io::Annotate("cannot read WAL segment", io::ReadFileToString(env, path, out));
}

Status TruncateFile(io::Env* env, const std::string& path, uint64_t size) {
  std::unique_ptr<io::WritableFile> file;
  Status s = env->ReopenWritableFile(path, &file);
  if (!s.ok()) return io::Annotate("cannot open torn WAL segment", s);
  s = file->Truncate(size);
  // Durable before a newer segment can exist, or the torn region would become mid-log
  // corruption after a host crash.
  if (s.ok()) s = file->Sync();
  (void)file->Close();
  return io::Annotate("cannot truncate torn WAL segment", s);
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
    Status s = ListSegments(dir, &segments, options_.env);
    if (!s.ok()) return s;
    report_->segments = segments.size();
    if (segments.empty()) return Status::OK();
    report_->highest_segment = segments.back().number;

    // Trailing empty files (a writer that died right after creating its segment) do not make
    // the segment before them any less "last".
    size_t last = segments.size();
    for (size_t i = segments.size(); i-- > 0;) {
      io::FileStat st;
      if (options_.env->Stat(segments[i].path, &st).ok() && st.size > 0) {
        last = i;
        break;
      }
    }
    std::string data;
    for (size_t i = 0; i < segments.size(); ++i) {
      s = ReadWholeFile(options_.env, segments[i].path, &data);
      if (!s.ok()) return s;
      report_->segment_in_progress = segments[i].number;
      s = WalkSegment(segments[i].path, data, i == last);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

 private:
  Status WalkSegment(const std::string& path, std::string_view data, bool is_last) {
    // Pass 1: where this segment's log ends. Normally at the end of its last complete valid
    // record, so damage after that is a tail. In the newest segment also at a gap of zeroed
    // space with records after it: segments are zero-filled ahead of their records, and a power
    // loss during an fdatasync can keep a later page and lose an earlier one, which then reads as
    // zeros. No sync completed after that earlier page was written, so nothing from it on was
    // ever acknowledged. Older segments were synced whole before a newer one was created: a gap
    // in them is corruption like any other damage.
    uint64_t end = 0;
    uint64_t gap = UINT64_MAX;  // where the damage run holding the first zeroed space starts
    SegmentParser::Item item;
    {
      SegmentParser parser(data);
      uint64_t run_start = UINT64_MAX;  // first damage since the last record
      while (parser.Next(&item)) {
        if (item.kind == SegmentParser::Item::Kind::kRecord) {
          end = item.end;
          run_start = UINT64_MAX;
          continue;
        }
        if (run_start == UINT64_MAX) run_start = item.offset;
        if (is_last && gap == UINT64_MAX && item.zeroed) {
          gap = run_start;
        }
      }
    }
    const bool cut_at_gap = gap < end;
    if (cut_at_gap) end = gap;

    SegmentParser parser(data);
    while (parser.Next(&item)) {
      const bool damage = item.kind == SegmentParser::Item::Kind::kDamage;
      if (item.offset >= end && (damage || cut_at_gap)) {
        return HandleTail(path, data, end, item, is_last);
      }
      if (damage) {
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
    return TruncateFile(options_.env, path, last_end);
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

Status VerifyWal(const std::string& dir, ReplayReport* report, io::Env* env) {
  *report = ReplayReport();
  ReplayOptions options;
  options.env = env;
  options.truncate_torn_tail = false;
  options.salvage = false;
  return Walker(options, /*read_only=*/true, nullptr, report).Run(dir);
}

}  // namespace taskring::wal
