#include "daemon/dedup_store.h"

#include "wal/key_file_format.h"

namespace taskring::daemon {
namespace {

// The compacted file is written here, then renamed over the key file.
std::string TempPath(const std::string& path) { return path + ".tmp"; }

// The key file's path in front of a parse error, keeping its code (Corruption, Incompatible).
Status NameFile(const std::string& path, const Status& s) {
  const std::string msg = path + ": " + std::string(s.message());
  if (s.IsIncompatible()) return Status::Incompatible(msg);
  return Status::Corruption(msg);
}

}  // namespace

DedupStore::DedupStore(io::Env* env, std::string dir, uint64_t window_ns, size_t max_keys,
                       int file_mode)
    : env_(env),
      dir_(std::move(dir)),
      path_(io::JoinPath(dir_, wal::kKeyFileName)),
      window_ns_(window_ns),
      max_keys_(max_keys),
      file_mode_(file_mode) {}

DedupStore::~DedupStore() {
  if (file_ != nullptr) (void)file_->Close();  // everything that matters was synced
}

Status DedupStore::Open(io::Env* env, const std::string& wal_dir, uint64_t window_ns,
                        size_t max_keys, uint64_t now_unix_ns, int file_mode,
                        std::unique_ptr<DedupStore>* out) {
  if (window_ns == 0 || max_keys == 0) {
    return Status::InvalidArgument("the dedup window and the maximum of keys must be above 0");
  }
  std::unique_ptr<DedupStore> store(new DedupStore(env, wal_dir, window_ns, max_keys, file_mode));
  Status s = store->Load(now_unix_ns);
  // A new (or header-less) file is made the way a compaction makes one: durable name included.
  if (s.ok() && store->rewrite_needed_) s = store->Rewrite();
  if (!s.ok()) return s;
  *out = std::move(store);
  return Status::OK();
}

Status DedupStore::Load(uint64_t now_unix_ns) {
  // Left by a compaction a crash interrupted; the key file itself is still whole.
  (void)env_->RemoveFile(TempPath(path_));

  std::string data;
  io::ReadableFileOptions ropts;
  ropts.no_follow = true;
  Status s = io::ReadFileToString(env_, path_, &data, ropts);
  if (s.IsNotFound()) {
    rewrite_needed_ = true;
    return Status::OK();
  }
  if (!s.ok()) return io::Annotate("cannot read key file", s);

  wal::KeyFileContents contents;
  s = wal::ParseKeyFile(data, &contents);
  if (!s.ok()) return NameFile(path_, s);
  for (const wal::KeyRecord& rec : contents.records) {
    // The later record of a key supersedes the earlier (written after that one expired or was
    // evicted), whatever their times.
    auto it = entries_.find(rec.key);
    if (it != entries_.end()) Erase(it);
    Insert(rec.key, Entry{rec.job_id, rec.first_seen_unix_ns});
  }
  Expire(now_unix_ns);
  EvictOverflow();

  if (contents.valid_bytes < wal::kKeyFileHeaderSize) {
    rewrite_needed_ = true;  // empty, or a header cut short: nothing in it to keep
    truncated_bytes_ = data.size();
    return Status::OK();
  }
  s = env_->ReopenWritableFile(path_, &file_);
  if (!s.ok()) return io::Annotate("cannot open key file", s);
  if (contents.torn) {
    truncated_bytes_ = data.size() - contents.valid_bytes;
    s = file_->Truncate(contents.valid_bytes);
    if (s.ok()) s = file_->DataSync();
    if (!s.ok()) return io::Annotate("cannot cut the torn tail of key file", s);
  }
  file_bytes_ = contents.valid_bytes;
  file_records_ = contents.records.size();
  return Status::OK();
}

bool DedupStore::Expired(const Entry& e, uint64_t now_unix_ns) const {
  // A first_seen in the future (the clock went back) counts as just seen.
  return now_unix_ns > e.first_seen_unix_ns && now_unix_ns - e.first_seen_unix_ns >= window_ns_;
}

void DedupStore::Insert(std::string_view key, const Entry& e) {
  auto [it, inserted] = entries_.emplace(std::string(key), e);
  by_age_.emplace(e.first_seen_unix_ns, std::string_view(it->first));
}

void DedupStore::Erase(Entries::iterator it) {
  by_age_.erase({it->second.first_seen_unix_ns, std::string_view(it->first)});
  unpersisted_.erase(it->first);
  entries_.erase(it);
}

void DedupStore::EvictOverflow() {
  while (entries_.size() > max_keys_) {
    Erase(entries_.find(by_age_.begin()->second));
    ++evicted_;
  }
}

std::optional<uint64_t> DedupStore::Find(std::string_view key, uint64_t now_unix_ns) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || Expired(it->second, now_unix_ns)) return std::nullopt;
  return it->second.job_id;
}

bool DedupStore::Add(std::string_view key, uint64_t job_id, uint64_t first_seen_unix_ns) {
  // Such a record would make the file unreadable (the parser refuses it).
  if (job_id == 0 || !wal::ValidIdempotencyKey(key)) return false;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (!Expired(it->second, first_seen_unix_ns)) return false;
    Erase(it);
  }
  Insert(key, Entry{job_id, first_seen_unix_ns});
  unpersisted_.emplace(key);
  EvictOverflow();
  return true;
}

bool DedupStore::AddFromLog(std::string_view key, uint64_t job_id, uint64_t first_seen_unix_ns) {
  if (job_id == 0 || !wal::ValidIdempotencyKey(key)) return false;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    // Job ids only grow: a later job for a key the file names means the key was forgotten
    // (--dedup-max) and used again, and the log is the newer truth.
    if (it->second.job_id >= job_id) return false;
    Erase(it);
  }
  Insert(key, Entry{job_id, first_seen_unix_ns});
  unpersisted_.emplace(key);
  EvictOverflow();
  return true;
}

void DedupStore::Expire(uint64_t now_unix_ns) {
  while (!by_age_.empty()) {
    const auto& [first_seen, key] = *by_age_.begin();
    if (!Expired(Entry{0, first_seen}, now_unix_ns)) break;
    Erase(entries_.find(key));
  }
}

Status DedupStore::Persist() {
  const uint64_t records_after_append = file_records_ + unpersisted_.size();
  if (rewrite_needed_ || records_after_append > 2 * entries_.size() + kCompactionSlack) {
    return Rewrite();
  }
  if (unpersisted_.empty()) return Status::OK();
  return Append();
}

Status DedupStore::Append() {
  std::string buf;
  for (const std::string& key : unpersisted_) {
    const Entry& e = entries_.at(key);
    wal::EncodeKeyRecord(key, e.first_seen_unix_ns, e.job_id, &buf);
  }
  Status s = io::Annotate("cannot append to key file", file_->Write(file_bytes_, buf));
  if (s.ok()) s = io::Annotate("cannot sync key file", file_->DataSync());
  if (!s.ok()) {
    // A partial append, or pages a failed fdatasync may have dropped: rewrite the file whole.
    rewrite_needed_ = true;
    return s;
  }
  file_bytes_ += buf.size();
  file_records_ += unpersisted_.size();
  unpersisted_.clear();
  return Status::OK();
}

Status DedupStore::Rewrite() {
  // Oldest first, so the file reads in the order the keys were seen.
  std::string buf;
  wal::EncodeKeyFileHeader(&buf);
  for (const auto& [first_seen, key] : by_age_) {
    wal::EncodeKeyRecord(key, first_seen, entries_.find(key)->second.job_id, &buf);
  }
  rewrite_needed_ = true;  // until every step below succeeded
  if (file_ != nullptr) (void)file_->Close();
  file_.reset();

  const std::string temp = TempPath(path_);
  io::WritableFileOptions wopts;
  wopts.mode = file_mode_;
  wopts.exact_mode = true;
  std::unique_ptr<io::WritableFile> out;
  Status s = env_->NewWritableFile(temp, wopts, &out);
  if (!s.ok()) return io::Annotate("cannot create key file", s);
  s = io::Annotate("cannot write key file", out->Write(0, buf));
  if (s.ok()) s = io::Annotate("cannot sync key file", out->DataSync());
  if (s.ok()) s = io::Annotate("cannot close key file", out->Close());
  out.reset();
  if (s.ok()) s = io::Annotate("cannot rename key file to", env_->RenameFile(temp, path_));
  if (!s.ok()) {
    (void)env_->RemoveFile(temp);
    return s;
  }
  // Until the directory is synced, a crash may bring back the old file (the rule in io/env.h):
  // nothing written only to the new one counts yet.
  s = io::Annotate("cannot sync directory of key file", env_->SyncDir(dir_));
  if (!s.ok()) return s;
  // Appends go through a handle opened by the final name (the temp file's handle would keep
  // writing to the right inode, but FaultInjectionEnv tracks files by name).
  s = env_->ReopenWritableFile(path_, &file_);
  if (!s.ok()) return io::Annotate("cannot open key file", s);
  file_bytes_ = buf.size();
  file_records_ = entries_.size();
  unpersisted_.clear();
  rewrite_needed_ = false;
  return Status::OK();
}

}  // namespace taskring::daemon
