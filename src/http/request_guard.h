// Who may talk to the gateway. Three checks, on every request, before anything else:
//
//  * Host must name the gateway itself (its listen address and port, localhost aliases when it
//    listens on loopback, and --allow-host names). A page in a browser on this host that
//    rebinds its DNS name to 127.0.0.1 still sends its own name as Host: refused (DNS rebinding).
//  * Origin, when a browser sends one, must be the gateway's own http://HOST:PORT, so another
//    site's page cannot post jobs through the user's browser (CSRF). Clients such as curl send
//    none.
//  * With a token (--token-file), "Authorization: Bearer TOKEN", or the cookie the web page's
//    login sets (kTokenCookie: the token in hex, HttpOnly, SameSite=Strict), compared in
//    constant time.
//
// Immutable after construction: safe to share between io threads.
#ifndef TASKRING_HTTP_REQUEST_GUARD_H_
#define TASKRING_HTTP_REQUEST_GUARD_H_

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "http/listen_address.h"

namespace taskring::http {

// Equal contents, in time that depends only on the lengths (not on where they differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

class RequestGuard {
 public:
  enum class Verdict { kAllow, kBadHost, kBadOrigin, kUnauthorized };

  // `port`: the bound port (the listen address may have said 0). `extra_hosts`: --allow-host.
  RequestGuard(const ListenAddress& listen, uint16_t port,
               const std::vector<std::string>& extra_hosts, std::string bearer_token);

  // `host`, `origin`, `authorization`, `cookie`: the header values ("" when absent; has_origin
  // says whether Origin was sent at all, since an empty one is still a foreign origin).
  [[nodiscard]] Verdict Check(std::string_view host, bool has_origin, std::string_view origin,
                              std::string_view authorization, std::string_view cookie = {}) const;
  // Whether a token is required at all, and whether `token` is it (constant time).
  [[nodiscard]] bool NeedsToken() const { return !token_.empty(); }
  [[nodiscard]] bool TokenMatches(std::string_view token) const;
  // The Set-Cookie value that logs a browser in (the token, hex-encoded, so any visible
  // character of it is a valid cookie value).
  [[nodiscard]] std::string LoginCookie() const;
  [[nodiscard]] bool HostAllowed(std::string_view host) const;
  [[nodiscard]] bool OriginAllowed(std::string_view origin) const;

 private:
  std::set<std::string> hosts_;  // lower case "name:port"
  std::string token_;
  std::string token_hex_;  // the login cookie's value
};

inline constexpr std::string_view kTokenCookie = "taskring_token";

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "" when absent.
std::string_view CookieValue(std::string_view header, std::string_view name);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_REQUEST_GUARD_H_
