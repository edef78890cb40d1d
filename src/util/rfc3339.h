// RFC 3339 timestamps ("2026-11-30T08:00:00Z", "2026-11-30T09:00:00.250+01:00") to nanoseconds
// since the Unix epoch: what `taskring enqueue --run-at` takes, so a script can say when a job
// runs in the form `date -Iseconds` and most languages print.
#ifndef TASKRING_UTIL_RFC3339_H_
#define TASKRING_UTIL_RFC3339_H_

#include <cstdint>
#include <string_view>

#include "taskring/status.h"

namespace taskring::util {

// Parses exactly `text`: YYYY-MM-DD "T" hh:mm:ss [.fraction] ("Z" | +hh:mm | -hh:mm); "t" and
// "z" are accepted too (RFC 3339 section 5.6). Up to 9 fraction digits count (ns); more are
// truncated. A leap second (ss = 60) is read as the first second of the next minute. Times
// before 1970 or after 2262 (beyond uint64 ns) and impossible dates (Feb 30) are
// InvalidArgument, with a message saying what was expected.
[[nodiscard]] Status ParseRfc3339(std::string_view text, uint64_t* unix_ns);

}  // namespace taskring::util

#endif  // TASKRING_UTIL_RFC3339_H_
