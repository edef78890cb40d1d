#include "client/job_lookup.h"

#include <algorithm>
#include <cstring>

#include "outcome/outcome_reader.h"
#include "taskring/options.h"
#include "util/clock.h"
#include "util/job_meta.h"

namespace taskring::client {

namespace {

bool Live(JobState s) {
  return s == JobState::kPending || s == JobState::kQueued || s == JobState::kRunning ||
         s == JobState::kDelayed || s == JobState::kRetrying;
}

outcome::OutcomeReader ReaderOf(const segment::Segment& seg) {
  return outcome::OutcomeReader(
      OutcomeDir(seg),
      outcome::OutcomeIndex(static_cast<outcome::OutcomeIndexEntry*>(seg.outcome_index()),
                            seg.params().outcome_index_entries));
}

// Past --result-ttl: the store deletes whole files, so a record may outlive its TTL on disk.
bool Expired(const segment::Segment& seg, const outcome::OutcomeRecord& rec) {
  const uint64_t ttl = seg.header()->result_ttl_ns;
  return ttl != 0 && rec.finished_unix_ns + ttl < util::NowUnixNs();
}

void SetMeta(std::string_view encoded, JobStatus* out) {
  util::JobMeta meta;
  if (!encoded.empty() && util::DecodeJobMeta(encoded, &meta).ok()) {
    out->type = std::move(meta.type);
    out->headers = std::move(meta.headers);
  }
}

// The fields a live job's slot and status entry hold. False if the slot no longer holds job
// `id` (it finished and the slot was reused), or the slot or the entry (read as `packed`)
// changed while they were read.
bool ReadSlot(const segment::Segment& seg, uint32_t slot, uint64_t id, uint64_t packed,
              JobStatus* out) {
  if (!seg.ValidSlot(slot)) return false;
  const segment::SlotHeader* h = seg.slot(slot);
  const uint64_t word = h->word.load(std::memory_order_acquire);
  if (segment::SlotStateOf(word) == segment::SlotState::kFree || h->job_id != id) return false;
  const uint32_t attempt = h->attempt.load(std::memory_order_relaxed);
  const uint32_t len = h->payload_len;  // each field read once, then bounds-checked
  const uint32_t meta_len = h->meta_len;
  out->max_attempts = h->max_attempts;
  out->priority = std::min<int>(h->priority, kMaxPriority);
  out->enqueued_unix_ns = h->enqueued_unix_ns;
  out->started_unix_ns = h->started_unix_ns;
  std::string meta;
  if (uint64_t{len} + meta_len <= seg.params().max_payload && meta_len <= kMaxJobMetaBytes) {
    meta.assign(seg.meta(slot, len), meta_len);
  }
  const segment::SlotExtra* x = seg.extra(slot);
  JobToken token;
  token.id = id;
  const segment::StatusEntry* entry = seg.status_entry(id);
  segment::LoadSecret(entry, token.secret.data());
  out->cancel_requested = x->cancel.load(std::memory_order_relaxed) != 0;
  uint8_t percent = 0;
  out->has_progress =
      attempt != 0 && segment::ReadProgress(x, attempt, &percent, &out->progress_message);
  out->progress_percent = out->has_progress ? percent : 0;
  if (h->word.load(std::memory_order_acquire) != word || h->job_id != id) return false;
  // A newer job takes the entry (id first, then its secret: producer.cc) once this one ended,
  // which may be just before its slot is freed: a secret read then is the newer job's.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (entry->packed.load(std::memory_order_relaxed) != packed) return false;
  out->token = token.ToString();
  SetMeta(meta, out);
  return true;
}

void FillFromRecord(const outcome::OutcomeRecord& rec, JobStatus* out) {
  JobToken token;
  token.id = rec.job_id;
  token.secret = rec.secret;
  out->token = token.ToString();
  out->attempt = rec.attempt;
  out->max_attempts = rec.max_attempts;
  out->priority = rec.priority;
  out->enqueued_unix_ns = rec.enqueued_unix_ns;
  out->started_unix_ns = rec.started_unix_ns;
  out->finished_unix_ns = rec.finished_unix_ns;
  out->error = rec.error;
  SetMeta(rec.meta, out);
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

std::string OutcomeDir(const segment::Segment& seg) {
  const char* dir = seg.header()->wal_dir;  // NUL-terminated: checked on attach
  return std::string(dir, strnlen(dir, segment::kMaxWalDir)) + "/outcomes";
}

Status LookupJob(const segment::Segment& seg, uint64_t id, JobStatus* out) {
  *out = JobStatus{};
  out->id = id;
  const uint64_t next = seg.header()->next_job_id.load(std::memory_order_acquire);
  if (id == 0 || id >= next || id < seg.header()->first_job_id) {
    return Status::NotFound("job " + std::to_string(id) + " was never enqueued");
  }
  const segment::StatusEntry* e = seg.status_entry(id);
  const uint64_t packed = e->packed.load(std::memory_order_acquire);
  const uint64_t updated = e->updated_unix_ns.load(std::memory_order_relaxed);
  const uint32_t slot = e->slot.load(std::memory_order_relaxed);
  JobState state = JobState::kUnknown;
  uint32_t attempt = 0;
  const bool own_entry = segment::UnpackStatus(packed, id, &state, &attempt);
  if (own_entry && state == JobState::kUnknown) {
    // Drawn by a producer and answered as a duplicate of an earlier key: nothing was created.
    return Status::NotFound("job " + std::to_string(id) + " was never created");
  }
  const outcome::OutcomeReader reader = ReaderOf(seg);
  if (own_entry && Live(state) && ReadSlot(seg, slot, id, packed, out)) {
    out->state = state;
    out->attempt = attempt;
    out->updated_unix_ns = updated;
    if (attempt >= 1) {
      // An earlier attempt may have failed: its error is in the outcome store (an index miss,
      // the common case, costs no file access).
      outcome::OutcomeRecord rec;
      if (reader.Find(id, /*with_result=*/false, &rec).ok() && rec.state == JobState::kRetrying) {
        out->error = rec.error;
        out->finished_unix_ns = rec.finished_unix_ns;
      }
    }
    return Status::OK();
  }
  outcome::OutcomeRecord rec;
  uint32_t result_len = 0;
  const Status found = reader.Find(id, /*with_result=*/false, &rec, &result_len);
  if (found.ok() && IsTerminal(rec.state) && !Expired(seg, rec)) {
    FillFromRecord(rec, out);
    out->state = rec.state;
    out->result_bytes = result_len;
    out->updated_unix_ns = rec.finished_unix_ns;
    return Status::OK();
  }
  const uint64_t ttl = seg.header()->result_ttl_ns;
  const bool entry_expired = IsTerminal(state) && ttl != 0 && updated + ttl < util::NowUnixNs();
  if (own_entry && !entry_expired) {
    // Finished with its outcome gone (evicted), or live and caught between two states.
    out->state = state;
    out->attempt = attempt;
    out->updated_unix_ns = updated;
    if (found.ok()) FillFromRecord(rec, out);
    return Status::OK();
  }
  if (!found.ok() && !found.IsNotFound()) return found;
  out->state = JobState::kExpired;
  return Status::OK();
}

Status LookupJobByToken(const segment::Segment& seg, std::string_view token, JobStatus* out) {
  JobToken t;
  if (!JobToken::Parse(token, &t)) {
    *out = JobStatus{};
    return Status::InvalidArgument("a job token is 40 hex digits");
  }
  Status s = LookupJob(seg, t.id, out);
  if (!s.ok()) return s;
  if (out->state == JobState::kExpired) return Status::OK();  // nothing left to compare
  if (!ConstantTimeEqual(out->token, t.ToString())) {
    *out = JobStatus{};
    return Status::NotFound("no job has this token");
  }
  return Status::OK();
}

Status LookupResult(const segment::Segment& seg, uint64_t id, std::string* out) {
  out->clear();
  JobStatus st;
  Status s = LookupJob(seg, id, &st);
  if (!s.ok()) return s;
  if (st.state != JobState::kCompleted) {
    return Status::NotFound("job " + std::to_string(id) + " has no result: it is " +
                            JobStateName(st.state));
  }
  outcome::OutcomeRecord rec;
  s = ReaderOf(seg).Find(id, /*with_result=*/true, &rec);
  if (s.IsNotFound() || (s.ok() && Expired(seg, rec))) {
    return Status::NotFound("job " + std::to_string(id) +
                            " completed, but its result is no longer kept (--result-ttl, "
                            "--result-max-mb)");
  }
  if (!s.ok()) return s;
  *out = std::move(rec.result);
  return Status::OK();
}

}  // namespace taskring::client
