#include "cli/text.h"

#include <time.h>

#include <cstdio>

namespace taskring::cli {

std::string Printable(std::string_view payload, size_t limit) {
  std::string out;
  for (size_t i = 0; i < payload.size() && i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(payload[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (payload.size() > limit) out += "...";
  return out;
}

std::string FormatUnixNs(uint64_t unix_ns) {
  if (unix_ns == 0) return "-";
  const time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000ULL);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[80];  // room for any int fields, so no truncation warning
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<unsigned>(unix_ns / 1'000'000 % 1000));
  return buf;
}

}  // namespace taskring::cli
