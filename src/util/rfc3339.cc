#include "util/rfc3339.h"

#include <string>

namespace taskring::util {
namespace {

constexpr const char* kExpected = "expected YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)";

// Reads `n` decimal digits at *pos; false if any is not a digit.
bool Digits(std::string_view s, size_t* pos, size_t n, int64_t* out) {
  if (s.size() < *pos + n) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char a, char b = '\0') {
  if (*pos >= s.size() || (s[*pos] != a && (b == '\0' || s[*pos] != b))) return false;
  ++*pos;
  return true;
}

bool LeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && LeapYear(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
// days_from_civil: exact for every year, no table, no time zone database).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Status Bad(std::string_view text, const std::string& why) {
  return Status::InvalidArgument("bad RFC 3339 time '" + std::string(text) + "': " + why);
}

}  // namespace

Status ParseRfc3339(std::string_view text, uint64_t* unix_ns) {
  size_t p = 0;
  int64_t year, month, day, hour, minute, second;
  if (!Digits(text, &p, 4, &year) || !Expect(text, &p, '-') || !Digits(text, &p, 2, &month) ||
      !Expect(text, &p, '-') || !Digits(text, &p, 2, &day) || !Expect(text, &p, 'T', 't') ||
      !Digits(text, &p, 2, &hour) || !Expect(text, &p, ':') || !Digits(text, &p, 2, &minute) ||
      !Expect(text, &p, ':') || !Digits(text, &p, 2, &second)) {
    return Bad(text, kExpected);
  }
  int64_t frac_ns = 0;
  if (p < text.size() && text[p] == '.') {
    ++p;
    size_t n = 0;
    int64_t scale = 100'000'000;
    for (; p < text.size() && text[p] >= '0' && text[p] <= '9'; ++p, ++n) {
      if (n < 9) {
        frac_ns += (text[p] - '0') * scale;
        scale /= 10;
      }
    }
    if (n == 0) return Bad(text, "a '.' needs fraction digits after it");
  }
  int64_t offset_s = 0;
  if (Expect(text, &p, 'Z', 'z')) {
  } else if (p < text.size() && (text[p] == '+' || text[p] == '-')) {
    const int64_t sign = text[p] == '-' ? -1 : 1;
    ++p;
    int64_t oh, om;
    if (!Digits(text, &p, 2, &oh) || !Expect(text, &p, ':') || !Digits(text, &p, 2, &om)) {
      return Bad(text, "the offset must be +hh:mm or -hh:mm");
    }
    if (oh > 23 || om > 59) return Bad(text, "offset out of range");
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return Bad(text, "missing time zone: end with Z or an offset such as +01:00");
  }
  if (p != text.size()) return Bad(text, "unexpected text after the time zone");
  if (month < 1 || month > 12) return Bad(text, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return Bad(text, "no such day in that month");
  if (hour > 23 || minute > 59 || second > 60) return Bad(text, "time of day out of range");

  const int64_t secs =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // uint64 ns reach 2554; int64 arithmetic below is exact up to 2262 (the usual limit).
  constexpr int64_t kMaxSecs = INT64_MAX / 1'000'000'000 - 1;
  if (secs < 0) return Bad(text, "before 1970-01-01T00:00:00Z");
  if (secs > kMaxSecs) return Bad(text, "too far in the future (after 2262)");
  *unix_ns = static_cast<uint64_t>(secs) * 1'000'000'000u + static_cast<uint64_t>(frac_ns);
  return Status::OK();
}

}  // namespace taskring::util
