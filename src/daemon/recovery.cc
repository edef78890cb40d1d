#include "daemon/recovery.h"

#include <algorithm>
#include <unordered_map>

#include "util/job_meta.h"

namespace taskring::daemon {

Status RecoverFromWal(const std::string& dir, bool salvage, RecoveryResult* out) {
  out->keys.clear();
  out->outcomes.clear();
  std::unordered_map<uint64_t, RecoveredJob> live;
  wal::ReplayOptions opts;
  opts.salvage = salvage;
  uint64_t max_id = 0;
  uint64_t terminal = 0;
  auto add_outcome = [&](const RecoveredJob& j, const wal::WalRecord& r, JobState state) {
    outcome::OutcomeRecord o;
    o.job_id = j.id;
    o.secret = j.secret;
    o.state = state;
    o.attempt = r.attempt;
    o.max_attempts = j.max_attempts;
    o.priority = static_cast<uint8_t>(std::min<uint32_t>(j.priority, 9));
    o.enqueued_unix_ns = j.enqueued_unix_ns;
    o.started_unix_ns = j.started_unix_ns;
    o.finished_unix_ns = r.event_unix_ns;
    o.meta = j.meta;
    if (state == JobState::kCompleted) {
      o.result = r.text;
    } else {
      o.error = r.text.substr(0, outcome::kMaxErrorBytes);
    }
    out->outcomes.push_back(std::move(o));
  };
  Status s = wal::ReplayWal(
      dir, opts,
      [&](const wal::WalRecord& r) -> Status {
        max_id = std::max(max_id, r.job_id);
        switch (r.type) {
          case wal::RecordType::kEnqueue: {
            RecoveredJob& j = live[r.job_id];
            j.id = r.job_id;
            j.attempts_made = r.attempt;
            j.max_attempts = r.max_attempts;
            j.enqueued_unix_ns = r.enqueued_unix_ns;
            j.not_before_unix_ns = r.not_before_unix_ns;
            j.wal_segment = out->report.segment_in_progress;
            j.priority = r.priority;
            j.timeout_ms = r.timeout_ms;
            j.payload = r.payload;  // a re-log keeps was_running: the job may still be running
            j.meta = r.meta;
            j.secret = r.secret;
            if (!r.meta.empty()) {
              util::JobMeta meta;
              if (util::DecodeJobMeta(r.meta, &meta).ok() && !meta.key.empty()) {
                out->keys.push_back({std::move(meta.key), r.job_id, r.enqueued_unix_ns});
              }
            }
            break;
          }
          case wal::RecordType::kRetry: {
            auto it = live.find(r.job_id);
            if (it != live.end()) {
              // Not the max with its start's: a release (Worker::Release) logs the attempt
              // before the one it gave back. Otherwise a retry follows its own start.
              it->second.attempts_made = r.attempt;
              it->second.not_before_unix_ns = r.not_before_unix_ns;
              it->second.was_running = false;
              add_outcome(it->second, r, JobState::kRetrying);
            }
            break;
          }
          case wal::RecordType::kStart: {
            // The run counts as an attempt: redelivered, it shows the next attempt number.
            auto it = live.find(r.job_id);
            if (it != live.end()) {
              it->second.attempts_made = std::max(it->second.attempts_made, r.attempt);
              it->second.was_running = true;
              if (r.event_unix_ns != 0) it->second.started_unix_ns = r.event_unix_ns;
            }
            break;
          }
          case wal::RecordType::kComplete:
          case wal::RecordType::kDead:
          case wal::RecordType::kCancel: {
            auto it = live.find(r.job_id);
            if (it == live.end()) break;
            add_outcome(it->second, r,
                        r.type == wal::RecordType::kComplete ? JobState::kCompleted
                        : r.type == wal::RecordType::kDead   ? JobState::kDead
                                                             : JobState::kCancelled);
            live.erase(it);
            ++terminal;
            break;
          }
        }
        return Status::OK();
      },
      &out->report);
  if (!s.ok()) return s;
  out->live.clear();
  out->live.reserve(live.size());
  out->was_running = 0;
  for (auto& [id, job] : live) {
    out->was_running += job.was_running;
    out->live.push_back(std::move(job));
  }
  std::sort(out->live.begin(), out->live.end(),
            [](const RecoveredJob& a, const RecoveredJob& b) { return a.id < b.id; });
  out->max_job_id = max_id;
  out->next_lsn = out->report.last_lsn + 1;
  out->terminal = terminal;
  return Status::OK();
}

uint64_t ReconcileDeadLetters(deadletter::DeadLetterStore& store,
                              const std::vector<RecoveredJob>& live) {
  store.RemoveTempFiles();
  std::vector<uint64_t> ids;
  if (!store.List(&ids).ok()) return 0;
  uint64_t removed = 0;
  auto it = live.begin();  // both sorted by id
  for (uint64_t id : ids) {
    while (it != live.end() && it->id < id) ++it;
    if (it != live.end() && it->id == id) removed += store.Remove(id).ok();
  }
  return removed;
}

uint64_t RestoreOutcomes(OutcomeStore* store, std::vector<outcome::OutcomeRecord>* outcomes) {
  auto terminal = [](JobState s) {
    return s == JobState::kCompleted || s == JobState::kDead || s == JobState::kCancelled;
  };
  uint64_t added = 0;
  for (outcome::OutcomeRecord& o : *outcomes) {
    JobState state;
    uint32_t attempt = 0;
    if (store->Latest(o.job_id, &state, &attempt) &&
        (terminal(state) || attempt > o.attempt || (attempt == o.attempt && !terminal(o.state)))) {
      continue;  // the store already has this or a later word on the job
    }
    added += store->Add(o) ? 1 : 0;
  }
  return added;
}

}  // namespace taskring::daemon
