#include "util/rfc3339.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace taskring::util {
namespace {

constexpr uint64_t kSec = 1'000'000'000;

uint64_t Parse(const std::string& text) {
  uint64_t ns = 12345;
  const Status s = ParseRfc3339(text, &ns);
  EXPECT_TRUE(s.ok()) << text << ": " << s.ToString();
  return ns;
}

TEST(Rfc3339Test, UtcTimesAreSecondsSinceTheEpoch) {
  EXPECT_EQ(Parse("1970-01-01T00:00:00Z"), 0u);
  EXPECT_EQ(Parse("2026-11-30T08:00:00Z"), 1796025600u * kSec);  // date -u -d ... +%s
  EXPECT_EQ(Parse("2000-02-29T23:59:59Z"), 951868799u * kSec);   // a leap day
  EXPECT_EQ(Parse("2026-11-30t08:00:00z"), Parse("2026-11-30T08:00:00Z")) << "lower case";
}

TEST(Rfc3339Test, FractionsAreNanosecondsAndExtraDigitsAreTruncated) {
  EXPECT_EQ(Parse("2026-11-30T08:00:00.5Z"), 1796025600u * kSec + 500'000'000u);
  EXPECT_EQ(Parse("2026-11-30T08:00:00.000000001Z"), 1796025600u * kSec + 1u);
  EXPECT_EQ(Parse("2026-11-30T08:00:00.1234567899Z"), 1796025600u * kSec + 123'456'789u);
}

TEST(Rfc3339Test, OffsetsAreSubtractedToGetUtc) {
  EXPECT_EQ(Parse("2026-11-30T09:00:00+01:00"), Parse("2026-11-30T08:00:00Z"));
  EXPECT_EQ(Parse("2026-11-30T02:30:00-05:30"), Parse("2026-11-30T08:00:00Z"));
  EXPECT_EQ(Parse("2026-12-01T00:00:00+00:00"), Parse("2026-12-01T00:00:00Z"));
  EXPECT_EQ(Parse("2026-11-30T23:59:60Z"), Parse("2026-12-01T00:00:00Z")) << "leap second";
}

TEST(Rfc3339Test, MalformedOrImpossibleTimesAreInvalidArgumentNamingTheText) {
  for (const std::string& bad : std::vector<std::string>{
           "", "2026-11-30", "2026-11-30T08:00:00", "2026-11-30 08:00:00Z", "2026-11-30T08:00Z",
           "2026-11-30T08:00:00.Z", "2026-11-30T08:00:00+0100", "2026-11-30T08:00:00+24:00",
           "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
           "2026-11-30T24:00:00Z", "2026-11-30T08:60:00Z", "2026-11-30T08:00:00Zjunk",
           "1969-12-31T23:59:59Z", "9999-01-01T00:00:00Z", "+026-11-30T08:00:00Z", "tomorrow"}) {
    uint64_t ns = 7;
    const Status s = ParseRfc3339(bad, &ns);
    EXPECT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_NE(s.ToString().find("'" + bad + "'"), std::string::npos) << s.ToString();
    EXPECT_EQ(ns, 7u) << "untouched on error: " << bad;
  }
}

}  // namespace
}  // namespace taskring::util
