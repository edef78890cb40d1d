#include "util/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace taskring::util {
namespace {

TEST(CodingTest, Fixed32IsLittleEndian) {
  char buf[4];
  EncodeFixed32(buf, 0x04030201u);
  EXPECT_EQ(std::string("\x01\x02\x03\x04", 4), std::string(buf, 4));
  EXPECT_EQ(0x04030201u, DecodeFixed32(buf));
}

TEST(CodingTest, Fixed64IsLittleEndian) {
  char buf[8];
  EncodeFixed64(buf, 0x0807060504030201ull);
  EXPECT_EQ(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8), std::string(buf, 8));
  EXPECT_EQ(0x0807060504030201ull, DecodeFixed64(buf));
}

TEST(CodingTest, PutFixedAppendsAndRoundTrips) {
  std::string s = "x";
  std::vector<uint32_t> v32;
  std::vector<uint64_t> v64;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100; ++i) {
    v32.push_back(static_cast<uint32_t>(rng()));
    v64.push_back(rng());
  }
  v32.push_back(0);
  v32.push_back(UINT32_MAX);
  v64.push_back(0);
  v64.push_back(UINT64_MAX);
  for (size_t i = 0; i < v32.size(); ++i) {
    PutFixed32(&s, v32[i]);
    PutFixed64(&s, v64[i]);
  }
  ASSERT_EQ(1 + v32.size() * 12, s.size());
  EXPECT_EQ('x', s[0]);
  const char* p = s.data() + 1;  // deliberately unaligned
  for (size_t i = 0; i < v32.size(); ++i) {
    EXPECT_EQ(v32[i], DecodeFixed32(p));
    EXPECT_EQ(v64[i], DecodeFixed64(p + 4));
    p += 12;
  }
}

}  // namespace
}  // namespace taskring::util
