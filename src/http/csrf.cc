#include "http/csrf.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "http/request_guard.h"
#include "http/route.h"

namespace taskring::http {

std::string NewCsrfToken() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fputs("taskring http: getrandom failed: no CSRF token\n", stderr);
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool CsrfMatches(const Request& req, std::string_view token) {
  if (const auto it = req.find("X-CSRF-Token"); it != req.end()) {
    return ConstantTimeEquals(std::string_view(it->value().data(), it->value().size()), token);
  }
  const auto ct = req.find(bhttp::field::content_type);
  if (ct == req.end() ||
      ct->value().find("application/x-www-form-urlencoded") == boost::beast::string_view::npos) {
    return false;
  }
  QueryParams form;
  std::string error;
  if (!ParseUrlEncoded(req.body(), &form, &error)) return false;
  const std::string* sent = FindParam(form, "csrf");
  return sent != nullptr && ConstantTimeEquals(*sent, token);
}

}  // namespace taskring::http
