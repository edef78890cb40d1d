// One line per notable event on stderr: "taskringd[pid] <UTC time> queue=<name>: <message>".
#ifndef TASKRING_DAEMON_LOG_H_
#define TASKRING_DAEMON_LOG_H_

#include <string>

namespace taskring::daemon {

void SetLogQueue(const std::string& queue);
// The line's first word ("taskringd"; "taskring-relay" and "taskring-bridge" use it too).
void SetLogProgram(const std::string& program);
void LogEvent(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_LOG_H_
