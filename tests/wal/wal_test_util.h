// Whole-file byte access for WAL tests (temp dirs come from tests/test_util.h).
#ifndef TASKRING_TESTS_WAL_WAL_TEST_UTIL_H_
#define TASKRING_TESTS_WAL_WAL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace taskring::wal::testutil {

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

// XORs one byte in place.
inline void FlipByte(const std::string& path, uint64_t offset, char mask = 0x10) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ mask);
  WriteFileBytes(path, bytes);
}

}  // namespace taskring::wal::testutil

#endif  // TASKRING_TESTS_WAL_WAL_TEST_UTIL_H_
