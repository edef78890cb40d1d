#include "http/request_guard.h"

#include <algorithm>
#include <cctype>

namespace taskring::http {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "name" or "name:port" (a bracketed IPv6 literal keeps its brackets) → "name:port", with the
// default port 80 filled in, since clients leave out the scheme's default port.
std::string WithPort(std::string_view host) {
  std::string h = Lower(host);
  const size_t bracket = h.rfind(']');
  const size_t colon = h.rfind(':');
  const bool has_port =
      colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  return has_port ? h : h + ":80";
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Every byte of the longer input is visited; the lengths are not secret.
  const size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | (x ^ y);
  }
  return diff == 0;
}

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

RequestGuard::RequestGuard(const ListenAddress& listen, uint16_t port,
                           const std::vector<std::string>& extra_hosts, std::string bearer_token)
    : token_(std::move(bearer_token)) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : token_) {
    token_hex_.push_back(kHex[c >> 4]);
    token_hex_.push_back(kHex[c & 15]);
  }
  const std::string p = ":" + std::to_string(port);
  if (!listen.unspecified) hosts_.insert(Lower(HostPort(listen, port)));
  if (listen.loopback) {
    for (const char* alias : {"localhost", "127.0.0.1", "[::1]"}) hosts_.insert(alias + p);
  }
  for (const std::string& h : extra_hosts) {
    const bool has_port = h.find(':') != std::string::npos && h.back() != ']';
    hosts_.insert(has_port ? Lower(h) : Lower(h) + p);
  }
}

bool RequestGuard::HostAllowed(std::string_view host) const {
  if (host.empty()) return false;
  return hosts_.count(WithPort(host)) != 0;
}

bool RequestGuard::OriginAllowed(std::string_view origin) const {
  constexpr std::string_view kScheme = "http://";
  if (origin.size() <= kScheme.size() || Lower(origin.substr(0, kScheme.size())) != kScheme) {
    return false;  // "null", https (the gateway serves no TLS), or no scheme at all
  }
  return HostAllowed(origin.substr(kScheme.size()));
}

RequestGuard::Verdict RequestGuard::Check(std::string_view host, bool has_origin,
                                          std::string_view origin, std::string_view authorization,
                                          std::string_view cookie) const {
  if (!HostAllowed(host)) return Verdict::kBadHost;
  if (has_origin && !OriginAllowed(origin)) return Verdict::kBadOrigin;
  if (token_.empty()) return Verdict::kAllow;
  const std::string_view from_cookie = CookieValue(cookie, kTokenCookie);
  if (!from_cookie.empty() && ConstantTimeEquals(from_cookie, token_hex_)) return Verdict::kAllow;
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size() ||
      Lower(authorization.substr(0, kBearer.size())) != kBearer) {
    return Verdict::kUnauthorized;
  }
  return ConstantTimeEquals(authorization.substr(kBearer.size()), token_) ? Verdict::kAllow
                                                                          : Verdict::kUnauthorized;
}

bool RequestGuard::TokenMatches(std::string_view token) const {
  return !token_.empty() && ConstantTimeEquals(token, token_);
}

std::string RequestGuard::LoginCookie() const {
  return std::string(kTokenCookie) + "=" + token_hex_ + "; HttpOnly; SameSite=Strict; Path=/";
}

}  // namespace taskring::http
