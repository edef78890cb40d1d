#include "util/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace taskring::util::crc32c {
namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Crc32cTest, MatchesStandardVectors) {
  EXPECT_EQ(0xE3069283u, Value("123456789", 9));

  char buf[32];
  std::memset(buf, 0, sizeof(buf));
  EXPECT_EQ(0x8A9136AAu, Value(buf, sizeof(buf)));
  std::memset(buf, 0xff, sizeof(buf));
  EXPECT_EQ(0x62A8AB43u, Value(buf, sizeof(buf)));
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(0x46DD794Eu, Value(buf, sizeof(buf)));
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(0x113FDB5Cu, Value(buf, sizeof(buf)));
}

TEST(Crc32cTest, PortablePathMatchesStandardVectors) {
  EXPECT_EQ(0xE3069283u, detail::ExtendPortable(0, "123456789", 9));
  const char zeros[32] = {};
  EXPECT_EQ(0x8A9136AAu, detail::ExtendPortable(0, zeros, sizeof(zeros)));
}

TEST(Crc32cTest, EmptyInputIsZero) {
  EXPECT_EQ(0u, Value("", 0));
  EXPECT_EQ(0x1234u, Extend(0x1234u, "", 0));
}

TEST(Crc32cTest, DifferentInputsGiveDifferentValues) { EXPECT_NE(Value("a", 1), Value("foo", 3)); }

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  std::mt19937_64 rng(1);
  const std::string data = RandomBytes(rng, 1000);
  const uint32_t whole = Value(data.data(), data.size());
  for (size_t split = 0; split <= data.size(); split += 37) {
    const uint32_t first = Value(data.data(), split);
    EXPECT_EQ(whole, Extend(first, data.data() + split, data.size() - split)) << split;
    EXPECT_EQ(whole, detail::ExtendPortable(detail::ExtendPortable(0, data.data(), split),
                                            data.data() + split, data.size() - split))
        << split;
  }
}

TEST(Crc32cTest, HardwareAndPortablePathsAgreeOnRandomData) {
  if (!detail::HardwareAvailable()) GTEST_SKIP() << "CPU without SSE4.2";
  std::mt19937_64 rng(2);
  for (int i = 0; i < 500; ++i) {
    const size_t n = rng() % 300;
    const size_t misalign = rng() % 8;  // the hardware loop loads 8 bytes at a time
    const std::string buf = RandomBytes(rng, n + misalign);
    const uint32_t seed = static_cast<uint32_t>(rng());
    EXPECT_EQ(detail::ExtendPortable(seed, buf.data() + misalign, n),
              detail::ExtendSse42(seed, buf.data() + misalign, n))
        << "n=" << n << " misalign=" << misalign;
  }
}

TEST(Crc32cTest, MaskRoundTripsAndChangesTheValue) {
  const uint32_t crc = Value("foo", 3);
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const auto v = static_cast<uint32_t>(rng());
    EXPECT_EQ(v, Unmask(Mask(v)));
  }
}

}  // namespace
}  // namespace taskring::util::crc32c
