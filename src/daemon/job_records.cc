#include "daemon/job_records.h"

namespace taskring::daemon {

bool EnqueueRecordOf(const segment::Segment& seg, uint32_t slot, uint32_t attempts,
                     wal::WalRecord* out, uint32_t* claimed_len) {
  const segment::SlotHeader* h = seg.slot(slot);
  const uint32_t len = h->payload_len;  // read once: the client could change it meanwhile
  if (claimed_len != nullptr) *claimed_len = len;
  if (len > seg.params().max_payload) return false;
  out->type = wal::RecordType::kEnqueue;
  out->job_id = h->job_id;
  out->attempt = attempts;
  out->max_attempts = h->max_attempts;
  out->enqueued_unix_ns = h->enqueued_unix_ns;
  out->not_before_unix_ns = h->not_before_unix_ns;
  out->payload.assign(seg.payload(slot), len);
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
  return true;
}

}  // namespace taskring::daemon
