#include "daemon/job_records.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "taskring/options.h"

namespace taskring::daemon {

bool EnqueueRecordOf(const segment::Segment& seg, uint32_t slot, uint32_t attempts,
                     wal::WalRecord* out, util::JobMeta* meta, std::string* why) {
  const segment::SlotHeader* h = seg.slot(slot);
  // Each field read once: the client could change it meanwhile.
  const uint32_t len = h->payload_len;
  const uint32_t meta_len = h->meta_len;
  const uint32_t priority = h->priority;
  auto refuse = [&](const std::string& reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  if (len > seg.params().max_payload || meta_len > kMaxJobMetaBytes ||
      len + meta_len > seg.params().max_payload) {
    return refuse("claims " + std::to_string(len) + " payload and " + std::to_string(meta_len) +
                  " meta bytes");
  }
  if (priority > kMaxPriority) return refuse("claims priority " + std::to_string(priority));
  out->type = wal::RecordType::kEnqueue;
  out->job_id = h->job_id;
  out->attempt = attempts;
  out->max_attempts = h->max_attempts;
  out->priority = priority;
  out->enqueued_unix_ns = h->enqueued_unix_ns;
  out->not_before_unix_ns = h->not_before_unix_ns;
  out->timeout_ms = h->timeout_ms;
  out->payload.assign(seg.payload(slot), len);
  out->meta.assign(seg.meta(slot, len), meta_len);
  segment::LoadSecret(seg.status_entry(h->job_id), out->secret.data());
  util::JobMeta decoded;
  Status s = util::DecodeJobMeta(out->meta, meta != nullptr ? meta : &decoded);
  if (!s.ok()) return refuse("holds a bad meta: " + s.ToString());
  return true;
}

bool DeadLetterOf(const segment::Segment& seg, uint32_t slot, uint32_t attempts,
                  deadletter::DeadReason reason, uint64_t now_unix_ns,
                  deadletter::DeadLetter* out) {
  const segment::SlotHeader* h = seg.slot(slot);
  const uint32_t len = h->payload_len;  // read once, then bounds-checked
  if (len > seg.params().max_payload) return false;
  out->job_id = h->job_id;
  out->attempts = attempts;
  out->max_attempts = h->max_attempts;
  out->enqueued_unix_ns = h->enqueued_unix_ns;
  out->dead_unix_ns = now_unix_ns;
  out->reason = reason;
  out->payload.assign(seg.payload(slot), len);
  // The meta was validated when the job was logged; one scribbled since is left out, as is a
  // priority out of range.
  const uint32_t meta_len = h->meta_len;
  out->priority = static_cast<uint8_t>(std::min<uint32_t>(h->priority, kMaxPriority));
  out->timeout_ms = h->timeout_ms;
  out->meta.clear();
  util::JobMeta meta;
  if (meta_len <= kMaxJobMetaBytes && len + meta_len <= seg.params().max_payload &&
      util::DecodeJobMeta(std::string_view(seg.meta(slot, len), meta_len), &meta).ok()) {
    out->meta.assign(seg.meta(slot, len), meta_len);
  }
  return true;
}

void OutcomeRecordOf(const segment::Segment& seg, uint32_t slot, JobState state, uint32_t attempt,
                     std::string text, uint64_t now_unix_ns, outcome::OutcomeRecord* out) {
  const segment::SlotHeader* h = seg.slot(slot);
  const uint32_t len = h->payload_len;  // read once, then bounds-checked
  const uint32_t meta_len = h->meta_len;
  out->job_id = h->job_id;
  segment::LoadSecret(seg.status_entry(h->job_id), out->secret.data());
  out->state = state;
  out->attempt = attempt;
  out->max_attempts = h->max_attempts;
  out->priority = static_cast<uint8_t>(std::min<uint32_t>(h->priority, kMaxPriority));
  out->enqueued_unix_ns = h->enqueued_unix_ns;
  out->started_unix_ns = h->started_unix_ns;
  out->finished_unix_ns = now_unix_ns;
  out->meta.clear();
  util::JobMeta meta;
  if (meta_len != 0 && len <= seg.params().max_payload && meta_len <= kMaxJobMetaBytes &&
      len + meta_len <= seg.params().max_payload &&
      util::DecodeJobMeta(std::string_view(seg.meta(slot, len), meta_len), &meta).ok()) {
    out->meta.assign(seg.meta(slot, len), meta_len);
  }
  out->error.clear();
  out->result.clear();
  if (state == JobState::kCompleted) {
    out->result = std::move(text);
  } else {
    out->error = std::move(text);
    if (out->error.size() > outcome::kMaxErrorBytes) out->error.resize(outcome::kMaxErrorBytes);
  }
}

}  // namespace taskring::daemon
