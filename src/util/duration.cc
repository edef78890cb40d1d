#include "util/duration.h"

#include <string>

namespace taskring::util {

Status ParseDurationMs(std::string_view text, uint64_t* ms) {
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\" is not a duration (e.g. 500ms, 30s, 5m, 24h, 7d)");
  };
  size_t digits = 0;
  uint64_t n = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (n > UINT64_MAX / 10 - 9) return bad();
    n = n * 10 + static_cast<uint64_t>(text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return bad();
  const std::string_view unit = text.substr(digits);
  uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else if (unit == "d") {
    scale = 86'400'000;
  } else {
    return bad();
  }
  if (n > UINT64_MAX / scale) return bad();
  *ms = n * scale;
  return Status::OK();
}

}  // namespace taskring::util
