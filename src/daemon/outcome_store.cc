#include "daemon/outcome_store.h"

#include <algorithm>
#include <utility>

namespace taskring::daemon {
namespace {

using outcome::kOutcomeFileHeaderSize;
using outcome::LocFile;
using outcome::LocOffset;
using outcome::OutcomeRecord;
using outcome::PackOutcomeLoc;

static_assert(OutcomeStore::kMaxFileBytes + OutcomeStore::kMaxBufferedBytes +
                      outcome::kMaxOutcomeRecordSize <
                  outcome::kMaxOutcomeOffset,
              "every offset the store writes fits the index's 32 bits");

// A buffer that grew this large for a burst is given back once written.
constexpr size_t kKeptBufferCapacity = 4 << 20;

uint64_t ResolveFileBytes(const OutcomeStoreOptions& o) {
  if (o.file_bytes != 0) {
    return std::clamp(o.file_bytes, OutcomeStore::kMinFileBytes, OutcomeStore::kMaxFileBytes);
  }
  return std::clamp(o.max_bytes / 16, uint64_t{64} << 10, uint64_t{64} << 20);
}

// As DIR/dead: readers in the daemon's group need to list and open, never to create.
int DirMode(int file_mode) { return (file_mode & 0070) != 0 ? 0750 : 0700; }

}  // namespace

OutcomeStore::OutcomeStore(io::Env* env, std::string dir, const OutcomeStoreOptions& options,
                           outcome::OutcomeIndex index)
    : env_(env),
      dir_(std::move(dir)),
      max_bytes_(options.max_bytes),
      ttl_ns_(options.ttl_ns),
      file_bytes_(ResolveFileBytes(options)),
      file_mode_(options.file_mode),
      index_(index) {}

OutcomeStore::~OutcomeStore() {
  for (auto& [number, f] : files_) {
    if (f.writer != nullptr) (void)f.writer->Close();
  }
}

std::string OutcomeStore::PathOf(uint32_t number) const {
  return io::JoinPath(dir_, outcome::OutcomeFileName(number));
}

uint32_t OutcomeStore::OldestLiveFile() const {
  // Files go oldest first, so every deleted one is numbered below the oldest left.
  if (files_.empty()) return static_cast<uint32_t>(std::min<uint64_t>(next_number_, UINT32_MAX));
  return files_.begin()->first;
}

Status OutcomeStore::Open(io::Env* env, const std::string& wal_dir,
                          const OutcomeStoreOptions& options, outcome::OutcomeIndex index,
                          uint64_t now_unix_ns, std::unique_ptr<OutcomeStore>* out) {
  if (options.max_bytes == 0 || options.ttl_ns == 0) {
    return Status::InvalidArgument("the outcome store's byte bound and TTL must be above 0");
  }
  std::unique_ptr<OutcomeStore> store(
      new OutcomeStore(env, io::JoinPath(wal_dir, outcome::kOutcomeDirName), options, index));
  Status s = store->Load(wal_dir, now_unix_ns);
  if (!s.ok()) return s;
  *out = std::move(store);
  return Status::OK();
}

Status OutcomeStore::Load(const std::string& wal_dir, uint64_t now_unix_ns) {
  io::FileStat st;
  Status s = env_->Stat(dir_, &st);
  if (s.IsNotFound()) {
    s = env_->CreateDir(dir_, DirMode(file_mode_));
    if (!s.ok()) return io::Annotate("cannot create outcome directory", s);
    // Files in it are durable only once its own name is (io/env.h).
    s = env_->SyncDir(wal_dir);
    if (!s.ok()) return io::Annotate("cannot sync the directory of", s);
  } else if (!s.ok()) {
    return io::Annotate("cannot stat outcome directory", s);
  } else if (!st.is_directory) {
    return Status::IOError(dir_ + " is not a directory");
  }

  std::vector<std::string> names;
  s = env_->GetChildren(dir_, &names);
  if (!s.ok()) return io::Annotate("cannot list outcome directory", s);
  std::vector<uint32_t> numbers;
  for (const std::string& name : names) {
    uint32_t n = 0;
    if (outcome::ParseOutcomeFileName(name, &n)) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  // Past every name, skipped files included, so no file is ever created over one.
  if (!numbers.empty()) next_number_ = uint64_t{numbers.back()} + 1;

  index_.Clear();
  std::vector<Tail> tails;
  for (const uint32_t n : numbers) {
    s = LoadFile(n, &tails);
    if (!s.ok()) return s;
  }
  // A daemon that crashed may have created them without syncing the directory: the next Sync()
  // does, with the files.
  if (!files_.empty()) dir_dirty_ = true;
  // Only the newest file was being appended to when the daemon stopped, so only its tail can be
  // a write a crash cut short. Damage in an older one is not (or a power loss cut several
  // unsynced files: then the WAL still holds their outcomes, and the daemon re-adds them).
  for (size_t i = 0; i < tails.size(); ++i) {
    const Tail& t = tails[i];
    if (t.valid_end == t.size) continue;
    if (i + 1 == tails.size()) {
      s = CutTornTail(t);
      if (!s.ok()) return s;
      continue;
    }
    const uint64_t lost = std::max<uint64_t>(1, t.damaged);
    damaged_records_ += lost;
    problems_.push_back(PathOf(t.number) + ": offset " + std::to_string(t.valid_end) + ": " +
                        t.reason + "; " + std::to_string(lost) +
                        " record(s) from there on skipped, the file kept until it expires");
  }
  Expire(now_unix_ns);
  return Status::OK();
}

Status OutcomeStore::LoadFile(uint32_t number, std::vector<Tail>* tails) {
  const std::string path = PathOf(number);
  io::FileStat st;
  Status s = env_->Stat(path, &st);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return io::Annotate("cannot stat outcome file", s);
  // Not something this store wrote (its offsets are 32-bit): not read into memory.
  if (!st.is_regular || st.size > outcome::kMaxOutcomeOffset) {
    ++skipped_files_;
    problems_.push_back(path + ": not a regular file of a possible size; left in place");
    return Status::OK();
  }
  std::string data;
  io::ReadableFileOptions ropts;
  ropts.no_follow = true;
  s = io::ReadFileToString(env_, path, &data, ropts);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return io::Annotate("cannot read outcome file", s);

  File& f = files_[number];
  uint64_t valid_end = 0;
  s = outcome::ScanOutcomeFile(
      data,
      [&](uint64_t offset, const OutcomeRecord& rec, uint64_t /*size*/) {
        ++f.records;
        f.newest_finished_unix_ns = std::max(f.newest_finished_unix_ns, rec.finished_unix_ns);
        // In file order, files oldest first: the later record of a job wins.
        Publish(Pending{rec.job_id, 0, rec.finished_unix_ns, 0}, PackOutcomeLoc(number, offset));
      },
      &valid_end);
  if (!s.ok()) {
    files_.erase(number);  // its header failed: no record was published
    ++skipped_files_;
    problems_.push_back(path + ": " + std::string(s.message()) + "; left in place");
    return Status::OK();
  }
  if (valid_end == 0 || data.size() == kOutcomeFileHeaderSize) {
    // Left by a crash right after its creation (or by a deletion that failed): nothing in it.
    files_.erase(number);
    if (env_->RemoveFile(path).ok()) dir_dirty_ = true;
    return Status::OK();
  }
  f.bytes = data.size();
  // What a crashed daemon wrote may still be in the page cache only: the next Sync() syncs it.
  f.unsynced = true;
  bytes_ += f.bytes;
  records_ += f.records;
  Tail t;
  t.number = number;
  t.valid_end = valid_end;
  t.size = data.size();
  if (valid_end < data.size()) {
    t.damaged = outcome::CountOutcomeRecordsFrom(data, valid_end);
    OutcomeRecord rec;
    uint64_t size = 0;
    s = outcome::DecodeOutcome(std::string_view(data).substr(valid_end), &rec, &size);
    t.reason = s.ok() ? "damaged" : std::string(s.message());
  }
  tails->push_back(std::move(t));
  return Status::OK();
}

Status OutcomeStore::CutTornTail(const Tail& t) {
  auto it = files_.find(t.number);
  File& f = it->second;
  const std::string path = PathOf(t.number);
  truncated_bytes_ += t.size - t.valid_end;
  problems_.push_back(path + ": torn tail of " + std::to_string(t.size - t.valid_end) +
                      " bytes at offset " + std::to_string(t.valid_end) + " cut off (" + t.reason +
                      ")");
  if (f.records == 0) {
    // Only a header would be left.
    Status s = env_->RemoveFile(path);
    if (!s.ok() && !s.IsNotFound()) return io::Annotate("cannot remove torn outcome file", s);
    bytes_ -= f.bytes;
    files_.erase(it);
    dir_dirty_ = true;
    return Status::OK();
  }
  std::unique_ptr<io::WritableFile> w;
  Status s = env_->ReopenWritableFile(path, &w);
  if (s.ok()) s = w->Truncate(t.valid_end);
  if (s.ok()) s = w->DataSync();
  if (w != nullptr) (void)w->Close();
  if (!s.ok()) return io::Annotate("cannot cut the torn tail of outcome file", s);
  bytes_ -= t.size - t.valid_end;
  f.bytes = t.valid_end;
  return Status::OK();
}

bool OutcomeStore::Add(const OutcomeRecord& rec) {
  // A record the decoders refuse would also hide every record after it in a file scan.
  if (!outcome::ValidateOutcome(rec).ok()) return false;
  if (buffer_.size() + outcome::EncodedOutcomeSize(rec) > kMaxBufferedBytes) return false;
  pending_.push_back(Pending{rec.job_id, buffer_.size(), rec.finished_unix_ns, 0});
  outcome::EncodeOutcome(rec, &buffer_);
  return true;
}

Status OutcomeStore::CreateFile() {
  if (next_number_ > UINT32_MAX) {
    return Status::ResourceExhausted(dir_ + ": outcome file numbers are used up");
  }
  // A number is used once, even when creating it fails: the next try takes the next one.
  const auto number = static_cast<uint32_t>(next_number_++);
  io::WritableFileOptions wopts;
  wopts.exclusive = true;  // never over a file left for a human
  wopts.mode = file_mode_;
  wopts.exact_mode = true;
  std::unique_ptr<io::WritableFile> w;
  Status s = env_->NewWritableFile(PathOf(number), wopts, &w);
  if (!s.ok()) return io::Annotate("cannot create outcome file", s);
  File& f = files_[number];
  f.writer = std::move(w);
  current_ = number;
  dir_dirty_ = true;
  return Status::OK();
}

void OutcomeStore::AbandonCurrent() {
  auto it = files_.find(current_);
  current_ = 0;
  File& f = it->second;
  if (f.bytes == 0) {
    // Its first write failed: nothing in it counts.
    (void)f.writer->Close();
    (void)env_->RemoveFile(PathOf(it->first));
    files_.erase(it);
    return;
  }
  // A prefix of the failed write may have reached the file: cut it off (best effort), so the
  // file reads cleanly to its end after a restart. Its records stay; Sync() still owes them an
  // fdatasync, and the cut one too.
  (void)f.writer->Truncate(f.bytes);
  f.unsynced = true;
}

void OutcomeStore::DropCopiesOfDeletedFiles() {
  const auto gone = [this](const Pending& p) {
    return p.moved_from != 0 && files_.count(LocFile(p.moved_from)) == 0;
  };
  if (std::none_of(pending_.begin(), pending_.end(), gone)) return;
  std::string kept;
  std::vector<Pending> kept_pending;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const size_t end = i + 1 < pending_.size() ? pending_[i + 1].offset : buffer_.size();
    if (gone(pending_[i])) continue;
    Pending p = pending_[i];
    p.offset = kept.size();
    kept.append(buffer_, pending_[i].offset, end - pending_[i].offset);
    kept_pending.push_back(p);
  }
  buffer_.swap(kept);
  pending_.swap(kept_pending);
}

Status OutcomeStore::Flush() {
  // Copies salvaged from a file Expire() deleted since: they expired (or were evicted) with it,
  // and written again they would come back at the next start.
  DropCopiesOfDeletedFiles();
  if (pending_.empty()) return Status::OK();
  if (current_ != 0) {
    File& f = files_.at(current_);
    if (f.bytes > kOutcomeFileHeaderSize && f.bytes + buffer_.size() > file_bytes_) {
      // Rotate. The file keeps its writer until Sync() has made it durable.
      if (!f.unsynced) {
        (void)f.writer->Close();
        f.writer.reset();
      }
      current_ = 0;
    }
  }
  if (current_ == 0) {
    Status s = CreateFile();
    if (!s.ok()) return s;
  }
  File& f = files_.at(current_);
  const uint64_t base = f.bytes == 0 ? kOutcomeFileHeaderSize : f.bytes;
  Status s;
  if (f.bytes == 0) {
    // The header goes with the first records, in one write: no file is left holding only a
    // header, and a crash mid-write leaves a torn file that Open cleans up.
    std::string header;
    outcome::EncodeOutcomeFileHeader(&header);
    buffer_.insert(0, header);
    s = f.writer->Write(0, buffer_);
    buffer_.erase(0, header.size());
  } else {
    s = f.writer->Write(f.bytes, buffer_);
  }
  if (!s.ok()) {
    AbandonCurrent();
    return io::Annotate("cannot write outcome file", s);
  }
  const uint64_t end = base + buffer_.size();
  bytes_ += end - f.bytes;
  f.bytes = end;
  f.unsynced = true;
  // Only now are the bytes in the file: publish, in order, so a later record of a job wins.
  for (const Pending& p : pending_) {
    ++f.records;
    f.newest_finished_unix_ns = std::max(f.newest_finished_unix_ns, p.finished_unix_ns);
    if (p.moved_from == 0) ++stored_;
    Publish(p, PackOutcomeLoc(current_, base + p.offset));
  }
  records_ += pending_.size();
  pending_.clear();
  buffer_.clear();
  if (buffer_.capacity() > kKeptBufferCapacity) std::string().swap(buffer_);
  return Status::OK();
}

void OutcomeStore::Publish(const Pending& p, uint64_t loc) {
  File& f = files_.at(LocFile(loc));
  if (!index_.valid()) {
    ++f.indexed;  // without an index every record counts as findable
    return;
  }
  if (p.moved_from != 0) {
    // A salvaged copy replaces only what the index still finds: not a record superseded since,
    // nor one whose file was deleted meanwhile.
    if (index_.Find(p.job_id) != p.moved_from || files_.count(LocFile(p.moved_from)) == 0) {
      return;
    }
  }
  uint64_t previous = 0;
  uint64_t displaced_loc = 0;
  const uint64_t displaced = index_.Put(p.job_id, loc, OldestLiveFile(), &displaced_loc, &previous);
  if (previous != 0) Unindexed(previous);
  if (displaced != 0) {
    Unindexed(displaced_loc);
    ++evicted_;
  }
  ++f.indexed;
}

void OutcomeStore::Unindexed(uint64_t loc) {
  auto it = files_.find(LocFile(loc));
  if (it != files_.end() && it->second.indexed > 0) --it->second.indexed;
}

Status OutcomeStore::Salvage(uint32_t number) {
  File& f = files_.at(number);
  const uint64_t from = std::max<uint64_t>(f.synced, kOutcomeFileHeaderSize);
  std::string data;
  if (f.bytes > from) {
    std::unique_ptr<io::ReadableFile> r;
    Status s = env_->NewReadableFile(PathOf(number), io::ReadableFileOptions(), &r);
    if (s.ok()) {
      data.resize(f.bytes - from);
      size_t got = 0;
      s = r->Read(from, data.size(), data.data(), &got);
      data.resize(got);
    }
    if (!s.ok() && !s.IsNotFound()) return io::Annotate("cannot read back outcome file", s);
  }
  // After a failed writeback the kernel usually keeps what was written in the page cache, so
  // this reads the records back; whatever fails its checksums now is lost.
  std::string copies;
  std::vector<Pending> moved;
  uint64_t parsed = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    OutcomeRecord rec;
    uint64_t size = 0;
    if (!outcome::DecodeOutcome(std::string_view(data).substr(pos), &rec, &size).ok()) break;
    ++parsed;
    const uint64_t loc = PackOutcomeLoc(number, from + pos);
    if (!index_.valid() || index_.Find(rec.job_id) == loc) {
      moved.push_back(Pending{rec.job_id, copies.size(), rec.finished_unix_ns, loc});
      copies.append(data, pos, static_cast<size_t>(size));
    }
    pos += static_cast<size_t>(size);
  }
  const uint64_t written = f.records - f.synced_records;
  if (parsed < written) damaged_records_ += written - parsed;
  // Before the records buffered since: a copy is older than any of them.
  buffer_.insert(0, copies);
  for (Pending& p : pending_) p.offset += copies.size();
  pending_.insert(pending_.begin(), moved.begin(), moved.end());
  f.sync_failed = false;
  f.salvaged = true;
  if (f.writer != nullptr) (void)f.writer->Close();
  f.writer.reset();
  return Status::OK();
}

Status OutcomeStore::Sync() {
  Status first;
  auto keep = [&first](const Status& s) {
    if (first.ok() && !s.ok()) first = s;
  };
  for (auto& [number, f] : files_) {
    if (f.sync_failed) keep(Salvage(number));
  }
  Status s = Flush();
  if (!s.ok()) return s;
  for (auto& [number, f] : files_) {
    if (!f.unsynced) continue;
    if (f.writer == nullptr) {
      s = env_->ReopenWritableFile(PathOf(number), &f.writer);
      if (!s.ok()) {
        keep(io::Annotate("cannot open outcome file", s));
        continue;
      }
    }
    s = f.writer->DataSync();
    if (!s.ok()) {
      keep(io::Annotate("cannot sync outcome file", s));
      // Its pages may be gone (io/env.h): no more appends to it, and the next Sync() rewrites
      // what it held past its last good fdatasync.
      f.unsynced = false;
      f.sync_failed = true;
      if (number == current_) current_ = 0;
      continue;
    }
    f.unsynced = false;
    f.synced = f.bytes;
    f.synced_records = f.records;
    if (number != current_) {
      (void)f.writer->Close();
      f.writer.reset();
    }
  }
  if (dir_dirty_) {
    s = env_->SyncDir(dir_);
    if (s.ok()) {
      dir_dirty_ = false;
    } else {
      keep(io::Annotate("cannot sync outcome directory", s));
    }
  }
  if (!first.ok()) return first;

  // The copies of salvaged files are durable, names included: cut the originals back to what
  // was durable before their failed fdatasync (best effort: a tail left is older than the
  // copies, which win when the files are read at the next start).
  for (auto it = files_.begin(); it != files_.end();) {
    auto next = std::next(it);
    File& f = it->second;
    if (f.salvaged) {
      f.salvaged = false;
      if (f.synced <= kOutcomeFileHeaderSize) {
        (void)DeleteFile(it);  // nothing in it was durable; what the index finds was copied
      } else {
        std::unique_ptr<io::WritableFile> w;
        Status cut = env_->ReopenWritableFile(PathOf(it->first), &w);
        if (cut.ok()) cut = w->Truncate(f.synced);
        if (cut.ok()) cut = w->DataSync();
        if (w != nullptr) (void)w->Close();
        if (cut.ok()) {
          bytes_ -= f.bytes - f.synced;
          records_ -= f.records - f.synced_records;
          f.bytes = f.synced;
          f.records = f.synced_records;
        }
      }
    }
    it = next;
  }
  return Status::OK();
}

Status OutcomeStore::DeleteFile(std::map<uint32_t, File>::iterator it) {
  File& f = it->second;
  if (f.writer != nullptr) (void)f.writer->Close();
  f.writer.reset();
  Status s = env_->RemoveFile(PathOf(it->first));
  if (!s.ok() && !s.IsNotFound()) return s;
  bytes_ -= f.bytes;
  records_ -= f.records;
  if (it->first == current_) current_ = 0;
  files_.erase(it);
  dir_dirty_ = true;
  return Status::OK();
}

void OutcomeStore::Expire(uint64_t now_unix_ns) {
  while (!files_.empty()) {
    auto it = files_.begin();
    if (it->first == current_) break;
    const File& f = it->second;
    // A finish time in the future (the clock went back) counts as just finished.
    const bool expired = now_unix_ns > f.newest_finished_unix_ns &&
                         now_unix_ns - f.newest_finished_unix_ns > ttl_ns_;
    if (!expired && bytes_ <= max_bytes_) break;
    const uint64_t findable = f.indexed;
    if (!DeleteFile(it).ok()) break;  // tried again at the next call
    (expired ? expired_ : evicted_) += findable;
  }
}

bool OutcomeStore::Latest(uint64_t job_id, JobState* state, uint32_t* attempt) const {
  const uint64_t loc = index_.Find(job_id);
  if (loc == 0 || files_.count(LocFile(loc)) == 0) return false;
  std::unique_ptr<io::ReadableFile> r;
  if (!env_->NewReadableFile(PathOf(LocFile(loc)), io::ReadableFileOptions(), &r).ok()) {
    return false;
  }
  const uint64_t offset = LocOffset(loc);
  if (offset >= r->Size()) return false;
  char head[outcome::kMaxOutcomeHeadFrame];
  size_t got = 0;
  if (!r->Read(offset, static_cast<size_t>(std::min<uint64_t>(sizeof(head), r->Size() - offset)),
               head, &got)
           .ok()) {
    return false;
  }
  OutcomeRecord rec;
  uint32_t result_len = 0;
  uint64_t size = 0;
  if (!outcome::DecodeOutcomeHead(std::string_view(head, got), &rec, &result_len, &size).ok() ||
      rec.job_id != job_id) {
    return false;
  }
  *state = rec.state;
  *attempt = rec.attempt;
  return true;
}

}  // namespace taskring::daemon
