// A job's status and result as any client reads them, in O(1) and without the daemon's help: a
// live job through its status entry (segment/status_table.h), which names its slot; a finished
// one through the outcome index in the segment and its record in DIR/outcomes
// (outcome/outcome_reader.h). Shared by Producer::GetStatus and JobClient.
//
// Everything read from shared memory is validated: a slot is trusted only while its state word
// and job id are the same before and after the read, a meta only if it decodes.
#ifndef TASKRING_CLIENT_JOB_LOOKUP_H_
#define TASKRING_CLIENT_JOB_LOOKUP_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "segment/segment.h"
#include "taskring/job.h"
#include "taskring/status.h"

namespace taskring::client {

// NotFound for an id never handed out; kExpired for one whose outcome is no longer kept.
Status LookupJob(const segment::Segment& seg, uint64_t id, JobStatus* out);

// The same, by token: NotFound unless the token's secret matches the job's (compared in constant
// time), so a token reveals no job but its own. An expired job's secret is gone with its
// outcome: it reads kExpired for any secret.
Status LookupJobByToken(const segment::Segment& seg, std::string_view token, JobStatus* out);

// The result bytes of a completed job. NotFound (saying why) while it has none: not completed
// (yet), or its outcome expired.
Status LookupResult(const segment::Segment& seg, uint64_t id, std::string* out);

// The outcome store of the segment's queue (DIR/outcomes, from the header's WAL directory).
std::string OutcomeDir(const segment::Segment& seg);

}  // namespace taskring::client

#endif  // TASKRING_CLIENT_JOB_LOOKUP_H_
