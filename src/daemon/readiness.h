// Tells whoever started the daemon that it serves (or stops): systemd's sd_notify protocol when
// NOTIFY_SOCKET is set (Type=notify units), and a file descriptor given with --ready-fd for
// scripts (`taskringd --ready-fd 3 3>fifo`), which gets one line and is closed.
#ifndef TASKRING_DAEMON_READINESS_H_
#define TASKRING_DAEMON_READINESS_H_

#include <string>

namespace taskring::daemon {

// Sends READY=1 (and STATUS=status) to systemd, and writes "ready <status>\n" to ready_fd
// (-1: none), then closes it. Best effort: a supervisor that went away is not an error.
void NotifyReady(int ready_fd, const std::string& status);
// Sends STOPPING=1 to systemd.
void NotifyStopping();

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_READINESS_H_
