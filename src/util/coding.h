// Fixed-width little-endian encoding shared by the WAL and any other on-disk or on-wire format.
//
// Everything is inline and memcpy-based: the compiler turns each call into one (unaligned) load or
// store on little-endian hosts, and the byte order stays explicit for big-endian ones.
#ifndef TASKRING_UTIL_CODING_H_
#define TASKRING_UTIL_CODING_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

namespace taskring::util {

namespace detail {
template <typename T>
inline T ToLittleEndian(T v) {
  if constexpr (std::endian::native == std::endian::little) {
    return v;
  } else {
    T r = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      r = static_cast<T>((r << 8) | ((v >> (8 * i)) & 0xff));
    }
    return r;
  }
}
}  // namespace detail

// Writes exactly 4 / 8 bytes at dst; the caller guarantees the room.
inline void EncodeFixed32(char* dst, uint32_t value) {
  value = detail::ToLittleEndian(value);
  std::memcpy(dst, &value, sizeof(value));
}

inline void EncodeFixed64(char* dst, uint64_t value) {
  value = detail::ToLittleEndian(value);
  std::memcpy(dst, &value, sizeof(value));
}

// Reads exactly 4 / 8 bytes at src; the caller guarantees they exist.
inline uint32_t DecodeFixed32(const char* src) {
  uint32_t value;
  std::memcpy(&value, src, sizeof(value));
  return detail::ToLittleEndian(value);
}

inline uint64_t DecodeFixed64(const char* src) {
  uint64_t value;
  std::memcpy(&value, src, sizeof(value));
  return detail::ToLittleEndian(value);
}

// Appends the encoding to *dst.
inline void PutFixed32(std::string* dst, uint32_t value) {
  char buf[sizeof(value)];
  EncodeFixed32(buf, value);
  dst->append(buf, sizeof(buf));
}

inline void PutFixed64(std::string* dst, uint64_t value) {
  char buf[sizeof(value)];
  EncodeFixed64(buf, value);
  dst->append(buf, sizeof(buf));
}

}  // namespace taskring::util

#endif  // TASKRING_UTIL_CODING_H_
