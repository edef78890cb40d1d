// What the engine writes about a job that sits in a slot: the ENQUEUE record that re-creates it
// (a new enqueue, a re-log out of an old WAL segment, a checkpoint), its dead letter and its
// outcome record. One
// place reads a slot for them, so a slot's fields are read once and bounds-checked alike.
#ifndef TASKRING_DAEMON_JOB_RECORDS_H_
#define TASKRING_DAEMON_JOB_RECORDS_H_

#include <cstdint>
#include <string>

#include "deadletter/dead_letter.h"
#include "outcome/outcome_record.h"
#include "segment/segment.h"
#include "util/job_meta.h"
#include "wal/wal_record.h"

namespace taskring::daemon {

// The ENQUEUE record of the job in `slot`, showing `attempts` made so far, and its decoded meta
// in *meta if given. False, with the reason in *why, if the slot holds what no producer writes
// (a client scribbled on it): a payload longer than the segment allows, a priority out of
// range, a meta that does not decode.
bool EnqueueRecordOf(const segment::Segment& seg, uint32_t slot, uint32_t attempts,
                     wal::WalRecord* out, util::JobMeta* meta = nullptr,
                     std::string* why = nullptr);

// The dead letter of the job in `slot`. False as for EnqueueRecordOf.
bool DeadLetterOf(const segment::Segment& seg, uint32_t slot, uint32_t attempts,
                  deadletter::DeadReason reason, uint64_t now_unix_ns, deadletter::DeadLetter* out);

// The outcome record (outcome/outcome_record.h) of the job in `slot` ending in `state` (or
// retrying) at `attempt`: `text` is its result (kCompleted) or error (cut to kMaxErrorBytes).
// A meta scribbled on since the job was logged is left out.
void OutcomeRecordOf(const segment::Segment& seg, uint32_t slot, JobState state, uint32_t attempt,
                     std::string text, uint64_t now_unix_ns, outcome::OutcomeRecord* out);

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_JOB_RECORDS_H_
