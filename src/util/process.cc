#include "util/process.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace taskring::util {
namespace {

// Reads /proc/<pid>/stat; returns false if gone. The comm field may hold spaces and ')' so
// parsing starts after the last ')'.
bool ReadStat(pid_t pid, char* state, uint64_t* start_ticks) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] == '\0') return false;
  p += 2;  // now at field 3 (state)
  *state = *p;
  // Field 22 is starttime: skip fields 3..21 (19 fields).
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return false;
    ++p;
  }
  *start_ticks = std::strtoull(p, nullptr, 10);
  return true;
}

}  // namespace

uint64_t ProcessStartTicks(pid_t pid) {
  char state = 0;
  uint64_t ticks = 0;
  if (!ReadStat(pid, &state, &ticks)) return 0;
  return ticks;
}

bool ProcessAlive(pid_t pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  char state = 0;
  uint64_t ticks = 0;
  if (!ReadStat(pid, &state, &ticks)) return false;
  if (state == 'Z' || state == 'X') return false;
  return ticks == start_ticks;
}

}  // namespace taskring::util
