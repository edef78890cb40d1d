#include "http/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace taskring::http {

Status ParseListenAddress(const std::string& text, ListenAddress* out) {
  *out = ListenAddress{};
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("--listen '" + text + "': expected [V6ADDRESS]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      return Status::InvalidArgument("--listen '" + text + "': expected HOST:PORT");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return Status::InvalidArgument("--listen '" + text + "': the port must be 0..65535");
  }
  out->port = static_cast<uint16_t>(value);
  out->host = host;
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    const uint32_t a = ntohl(v4.s_addr);
    out->loopback = (a >> 24) == 127;
    out->unspecified = a == 0;
    return Status::OK();
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    out->ipv6 = true;
    out->loopback = IN6_IS_ADDR_LOOPBACK(&v6);
    out->unspecified = IN6_IS_ADDR_UNSPECIFIED(&v6);
    return Status::OK();
  }
  return Status::InvalidArgument("--listen '" + text +
                                 "': HOST must be a numeric IP address (e.g. 127.0.0.1)");
}

std::string HostPort(const ListenAddress& a, uint16_t port) {
  return (a.ipv6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(port);
}

}  // namespace taskring::http
