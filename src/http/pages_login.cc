// `/login`: for a gateway with --token-file, a browser posts the token once and gets it back
// as an HttpOnly, SameSite=Strict cookie the request guard accepts like the Bearer header.
#include "http/html_escape.h"
#include "http/pages.h"

namespace taskring::http {

std::string LoginPage(const PageContext& ctx, const std::string& error) {
  std::string b = "<h1>Log in</h1>\n";
  if (!error.empty()) b += "<p class=\"down\">" + HtmlEscape(error) + "</p>\n";
  b += "<p>This gateway needs its token (the first line of its <code>--token-file</code>).</p>"
       "<form id=\"login\" method=\"post\" action=\"/login\"><input type=\"password\" "
       "name=\"token\" autocomplete=\"current-password\" required> <button type=\"submit\" "
       "data-action=\"login\">Log in</button></form>\n";
  return Page("log in", ctx, b);
}

}  // namespace taskring::http
