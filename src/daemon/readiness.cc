#include "daemon/readiness.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace taskring::daemon {
namespace {

// The sd_notify datagram, written by hand: the protocol is one datagram on a unix socket
// (systemd documents it as stable for reimplementation), and libsystemd would be a dependency
// for ten lines.
void SdNotify(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@')) return;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  (void)::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&addr), addr_len);
  ::close(fd);
}

}  // namespace

void NotifyReady(int ready_fd, const std::string& status) {
  SdNotify("READY=1\nSTATUS=" + status + "\nMAINPID=" + std::to_string(::getpid()));
  if (ready_fd < 0) return;
  const std::string line = "ready " + status + "\n";
  (void)::write(ready_fd, line.data(), line.size());
  ::close(ready_fd);
}

void NotifyStopping() { SdNotify("STOPPING=1"); }

}  // namespace taskring::daemon
