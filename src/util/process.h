// Process identity that survives PID reuse: a pid plus the kernel's start time of that process
// (/proc/<pid>/stat field 22, clock ticks since boot). A recycled pid has a different start time.
#ifndef TASKRING_UTIL_PROCESS_H_
#define TASKRING_UTIL_PROCESS_H_

#include <sys/types.h>

#include <cstdint>

namespace taskring::util {

// Start time of pid in clock ticks since boot, or 0 if the process does not exist.
uint64_t ProcessStartTicks(pid_t pid);
// True when pid exists and started at start_ticks (a zombie counts as dead).
bool ProcessAlive(pid_t pid, uint64_t start_ticks);

}  // namespace taskring::util

#endif  // TASKRING_UTIL_PROCESS_H_
