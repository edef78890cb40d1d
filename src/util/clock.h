// Clocks. Wall time (unix ns) for timestamps that are logged or shown; monotonic time for
// timeouts and heartbeats, which must not jump with NTP.
#ifndef TASKRING_UTIL_CLOCK_H_
#define TASKRING_UTIL_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace taskring::util {

inline uint64_t ReadClockNs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}
inline uint64_t NowUnixNs() { return ReadClockNs(CLOCK_REALTIME); }
inline uint64_t NowMonoNs() { return ReadClockNs(CLOCK_MONOTONIC); }

// Both clocks as of one moment, for a loop that reads the time once per round and hands it down.
struct Now {
  uint64_t unix_ns = 0;
  uint64_t mono_ns = 0;
  static Now Read() { return {NowUnixNs(), NowMonoNs()}; }
};

}  // namespace taskring::util

#endif  // TASKRING_UTIL_CLOCK_H_
