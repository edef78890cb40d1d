#include "http/content_negotiation.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace taskring::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The q of one media range ("text/html;level=1;q=0.8" → 0.8); 1 by default, a malformed q 0.
double Quality(std::string_view params) {
  size_t at = 0;
  while (at < params.size()) {
    const size_t semi = params.find(';', at);
    const std::string_view p = Trim(params.substr(at, semi - at));
    if (p.size() > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      const std::string v(p.substr(2, 8));  // "0.001" at most, bounded either way
      char* end = nullptr;
      const double q = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || q < 0 || q > 1) return 0;
      return q;
    }
    if (semi == std::string_view::npos) break;
    at = semi + 1;
  }
  return 1;
}

}  // namespace

bool PrefersHtml(std::string_view accept) {
  double html = -1, json = -1, any = -1;
  size_t at = 0;
  while (at <= accept.size()) {
    const size_t comma = accept.find(',', at);
    const std::string_view item =
        accept.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    const size_t semi = item.find(';');
    const std::string_view type = Trim(item.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1 : Quality(item.substr(semi + 1));
    if (EqualsNoCase(type, "text/html")) html = std::max(html, q);
    if (EqualsNoCase(type, "application/json")) json = std::max(json, q);
    if (type == "*/*") any = std::max(any, q);
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  if (json < 0) json = any;
  return html > 0 && html > json;
}

}  // namespace taskring::http
