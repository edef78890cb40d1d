// Durations on the command line: "90" (seconds), "500ms", "30s", "5m", "24h", "7d".
#ifndef TASKRING_UTIL_DURATION_H_
#define TASKRING_UTIL_DURATION_H_

#include <cstdint>
#include <string_view>

#include "taskring/status.h"

namespace taskring::util {

// InvalidArgument (naming the text) for anything else, a zero-length number, or an overflow.
[[nodiscard]] Status ParseDurationMs(std::string_view text, uint64_t* ms);

}  // namespace taskring::util

#endif  // TASKRING_UTIL_DURATION_H_
