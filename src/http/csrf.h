// The gateway's CSRF token: one random 128-bit value per gateway process, put in every form the
// pages render (a hidden "csrf" field, and <meta name="csrf-token">) and required by every
// state-changing POST of the pages (form field or X-CSRF-Token header). The Origin check
// (request_guard.h) already refuses other sites' browsers; this also covers browsers that send
// no Origin on a same-site form post, and keeps a page's actions from being triggered by a
// plain link.
#ifndef TASKRING_HTTP_CSRF_H_
#define TASKRING_HTTP_CSRF_H_

#include <string>
#include <string_view>

#include "http/http_types.h"

namespace taskring::http {

// 32 hex digits from the kernel's CSPRNG (getrandom); aborts if the kernel cannot give any,
// rather than run with a guessable token.
std::string NewCsrfToken();

// Whether `req` carries `token`: the X-CSRF-Token header, or else the "csrf" field of an
// application/x-www-form-urlencoded body. Compared in constant time.
bool CsrfMatches(const Request& req, std::string_view token);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_CSRF_H_
