// The gateway's --listen HOST:PORT, parsed and classified: whether it is loopback decides
// whether a bearer token is required, and its host and port are what Host headers must name.
#ifndef TASKRING_HTTP_LISTEN_ADDRESS_H_
#define TASKRING_HTTP_LISTEN_ADDRESS_H_

#include <cstdint>
#include <string>

#include "taskring/status.h"

namespace taskring::http {

struct ListenAddress {
  std::string host;  // as given, without brackets: "127.0.0.1", "::1", "0.0.0.0"
  uint16_t port = 0;
  bool ipv6 = false;
  // 127.0.0.0/8 and ::1: the kernel delivers these only to processes on this host, so the whole
  // /8 counts (127.0.0.2 is as private as 127.0.0.1).
  bool loopback = false;
  bool unspecified = false;  // 0.0.0.0 or :: (every interface)
};

// "HOST:PORT" or "[V6]:PORT" with HOST a numeric IP address (names are not resolved: what the
// gateway binds must be exactly what the operator wrote). InvalidArgument otherwise.
Status ParseListenAddress(const std::string& text, ListenAddress* out);

// "HOST:PORT" as a client writes it in a URL (IPv6 in brackets), with `port` (the bound one).
std::string HostPort(const ListenAddress& a, uint16_t port);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_LISTEN_ADDRESS_H_
