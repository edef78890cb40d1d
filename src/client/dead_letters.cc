// DeadLetters: the dead-letter store (src/deadletter) for clients, with the requeue rule of
// include/taskring/dead_letters.h. `taskring dead` (src/cli/dead_command.cc) is built on it.
#include "taskring/dead_letters.h"

#include <string>
#include <utility>

#include "deadletter/dead_letter_store.h"
#include "segment/segment.h"
#include "taskring/producer.h"
#include "util/file_lock.h"
#include "util/job_meta.h"

namespace taskring {
namespace {

constexpr int kFileMode = 0600;  // of DIR/dead/LOCK, as taskring dead always made it

// The WAL directory: options.dir, or the one the running daemon recorded in the segment.
Status FindDir(const DeadLettersOptions& o, std::string* dir) {
  if (!o.dir.empty()) {
    *dir = o.dir;
    return Status::OK();
  }
  if (o.queue.empty()) return Status::InvalidArgument("give a queue or its WAL directory");
  std::unique_ptr<segment::Segment> seg;
  Status s = segment::Segment::Attach(o.queue, /*read_only=*/true, &seg);
  if (s.IsNotFound()) {
    return Status::NotFound("queue '" + o.queue +
                            "' is not running; give its WAL directory with --dir");
  }
  if (!s.ok()) return s;
  *dir = seg->header()->wal_dir;  // NUL-terminated: checked on attach
  if (dir->empty()) {
    return Status::NotFound("the daemon did not record its WAL directory; use --dir");
  }
  return Status::OK();
}

}  // namespace

Status DeadLetters::Open(const DeadLettersOptions& options, std::unique_ptr<DeadLetters>* out) {
  std::string wal_dir;
  Status s = FindDir(options, &wal_dir);
  if (!s.ok()) return s;
  std::unique_ptr<deadletter::DeadLetterStore> store;
  s = deadletter::DeadLetterStore::Open(wal_dir, kFileMode, /*create=*/false, &store);
  Status absent;
  if (s.IsNotFound()) {
    absent = s;  // no job ever died here
  } else if (!s.ok()) {
    return s;
  }
  out->reset(new DeadLetters(options, wal_dir + "/dead", std::move(store), std::move(absent)));
  return Status::OK();
}

DeadLetters::DeadLetters(DeadLettersOptions options, std::string dir,
                         std::unique_ptr<deadletter::DeadLetterStore> store, Status absent)
    : options_(std::move(options)),
      dir_(std::move(dir)),
      store_(std::move(store)),
      absent_(std::move(absent)) {}

DeadLetters::~DeadLetters() = default;

Status DeadLetters::List(std::vector<uint64_t>* ids) const {
  ids->clear();
  if (!store_) return Status::OK();
  return store_->List(ids);
}

Status DeadLetters::Read(uint64_t job_id, DeadLetter* out) const {
  if (!store_) return absent_;
  deadletter::DeadLetter d;
  Status s = store_->Read(job_id, &d);
  if (!s.ok()) return s;
  *out = DeadLetter{};
  out->job_id = d.job_id;
  out->attempts = d.attempts;
  out->max_attempts = d.max_attempts;
  out->enqueued_unix_ns = d.enqueued_unix_ns;
  out->dead_unix_ns = d.dead_unix_ns;
  out->reason = deadletter::DeadReasonName(d.reason);
  out->priority = d.priority;
  out->timeout_ms = d.timeout_ms;
  util::JobMeta meta;
  if (util::DecodeJobMeta(d.meta, &meta).ok()) {  // checked when the file was decoded
    out->type = std::move(meta.type);
    out->idempotency_key = std::move(meta.key);
    out->headers = std::move(meta.headers);
  }
  out->payload = std::move(d.payload);
  return Status::OK();
}

Status DeadLetters::Lock(std::string* holder) {
  if (lock_) return Status::OK();
  if (!store_) return absent_;
  auto lock = std::make_unique<util::FileLock>();
  std::string pid;
  Status s = lock->Acquire(store_->dir() + "/LOCK", kFileMode, &pid);
  if (s.IsBusy()) {
    if (holder != nullptr) *holder = pid;
    return Status::Busy();
  }
  if (!s.ok()) return s;
  lock_ = std::move(lock);
  return Status::OK();
}

void DeadLetters::Unlock() { lock_.reset(); }

Status DeadLetters::LockForChange(bool* taken) {
  *taken = false;
  if (lock_) return Status::OK();
  std::string holder;
  Status s = Lock(&holder);
  if (s.IsBusy()) {
    // Not Busy: that answer of Requeue means a full queue.
    return Status::NotReady("another process (pid " + holder + ") is changing the dead letters");
  }
  if (!s.ok()) return s;
  *taken = true;
  return Status::OK();
}

Status DeadLetters::Connect() {
  if (producer_) return Status::OK();
  if (options_.queue.empty()) return Status::InvalidArgument("requeue needs the queue's name");
  ProducerOptions popts;
  popts.queue = options_.queue;
  popts.wait_for_daemon_ms = options_.wait_for_daemon_ms;
  return Producer::Open(popts, &producer_);
}

Status DeadLetters::Requeue(uint64_t job_id, uint64_t* new_id) {
  *new_id = 0;
  if (!store_) return absent_;
  bool taken = false;
  Status s = LockForChange(&taken);
  if (!s.ok()) return s;
  s = Connect();
  if (s.ok()) {
    deadletter::DeadLetter d;
    s = store_->Read(job_id, &d);
    if (s.ok()) {
      EnqueueOptions eopts;
      eopts.max_attempts = d.max_attempts;
      // A new job with what the dead one carried, but not its idempotency key: that would name
      // the dead job and create nothing.
      eopts.priority = d.priority;
      eopts.timeout_ms = d.timeout_ms;
      util::JobMeta meta;
      if (util::DecodeJobMeta(d.meta, &meta).ok()) {
        eopts.type = std::move(meta.type);
        eopts.headers = std::move(meta.headers);
      }
      uint64_t id = 0;
      s = producer_->Enqueue(d.payload, &id, eopts);
      if (s.ok()) {
        *new_id = id;
        // Accepted (durable): only now may the letter go.
        s = store_->Remove(job_id);
        if (s.IsNotFound()) s = Status::OK();
      }
    }
  }
  if (taken) Unlock();
  return s;
}

Status DeadLetters::Purge(uint64_t job_id) {
  if (!store_) return absent_;
  bool taken = false;
  Status s = LockForChange(&taken);
  if (!s.ok()) return s;
  s = store_->Remove(job_id);
  if (taken) Unlock();
  return s;
}

Status DeadLetters::PurgeAll(uint64_t* purged) {
  *purged = 0;
  if (!store_) return Status::OK();
  bool taken = false;
  Status s = LockForChange(&taken);
  if (!s.ok()) return s;
  std::vector<uint64_t> ids;
  s = store_->List(&ids);
  for (size_t i = 0; s.ok() && i < ids.size(); ++i) {
    s = store_->Remove(ids[i]);
    if (s.ok()) ++*purged;
    if (s.IsNotFound()) s = Status::OK();  // removed meanwhile
  }
  if (taken) Unlock();
  return s;
}

uint32_t DeadLetters::RetryAfterMs() const { return producer_ ? producer_->RetryAfterMs() : 0; }

}  // namespace taskring
