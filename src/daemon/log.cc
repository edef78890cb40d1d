#include "daemon/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace taskring::daemon {
namespace {
std::string g_queue = "?";
std::string g_program = "taskringd";
}  // namespace

void SetLogQueue(const std::string& queue) { g_queue = queue; }
void SetLogProgram(const std::string& program) { g_program = program; }

void LogEvent(const char* fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char when[32];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &utc);
  // One fprintf call per line so concurrent threads do not interleave within a line.
  std::fprintf(stderr, "%s[%d] %s.%03ldZ queue=%s: %s\n", g_program.c_str(),
               static_cast<int>(::getpid()), when, ts.tv_nsec / 1'000'000, g_queue.c_str(), msg);
}

}  // namespace taskring::daemon
