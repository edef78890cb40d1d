#include "daemon/dead_letter_keeper.h"

#include <vector>

#include "daemon/log.h"

namespace taskring::daemon {

namespace {
constexpr uint64_t kRefreshIntervalNs = 5'000'000'000;
}  // namespace

bool DeadLetterKeeper::Keep(const deadletter::DeadLetter& letter) {
  const Status s = store_->Write(letter);
  if (!s.ok()) {
    LogEvent("cannot keep dead letter of job %llu (%s); it will be retried instead",
             static_cast<unsigned long long>(letter.job_id), s.ToString().c_str());
    return false;
  }
  unsynced_ = true;
  ++count_;
  LogEvent("job %llu is dead after %u attempt(s) (%s); kept in %s",
           static_cast<unsigned long long>(letter.job_id), letter.attempts,
           deadletter::DeadReasonName(letter.reason), store_->dir().c_str());
  return true;
}

Status DeadLetterKeeper::Sync(uint64_t now_mono_ns) {
  if (!unsynced_) return Status::OK();
  Status s = store_->SyncDir();
  if (!s.ok()) return s;
  unsynced_ = false;
  if (count_ > max_letters_) Refresh(now_mono_ns, /*force=*/true);
  return Status::OK();
}

void DeadLetterKeeper::Refresh(uint64_t now_mono_ns, bool force) {
  if (!force && now_mono_ns - last_refresh_mono_ns_ < kRefreshIntervalNs) return;
  last_refresh_mono_ns_ = now_mono_ns;
  std::vector<uint64_t> ids;
  if (!store_->List(&ids).ok()) return;
  uint64_t evicted = 0;
  // Oldest first: ids grow with time, and the newest failures are the ones worth a look.
  for (size_t i = 0; ids.size() - i > max_letters_; ++i) evicted += store_->Remove(ids[i]).ok();
  if (evicted != 0) {
    seg_.Add(segment::Counter::kDeadEvicted, evicted);
    LogEvent("removed the %llu oldest dead letter(s) to keep at most %llu (--dead-max)",
             static_cast<unsigned long long>(evicted),
             static_cast<unsigned long long>(max_letters_));
  }
  count_ = ids.size() - evicted;
}

}  // namespace taskring::daemon
