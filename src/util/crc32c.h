// CRC32C (Castagnoli), the checksum of WAL records.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time) and a
// table-driven Boost.CRC fallback otherwise. All functions are pure and thread-safe.
#ifndef TASKRING_UTIL_CRC32C_H_
#define TASKRING_UTIL_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace taskring::util::crc32c {

// Returns the crc32c of concat(A, data[0,n-1]) where crc is the crc32c of some string A.
// Extend(0, data, n) == Value(data, n).
uint32_t Extend(uint32_t crc, const char* data, size_t n);

// The crc32c of data[0,n-1].
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

// A CRC stored next to the data it covers is masked: computing the CRC of a string that itself
// contains CRCs is weak, and masking breaks that pattern (same scheme as LevelDB).
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

namespace detail {
// Both implementations, exposed so tests can check that they agree.
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
// Only call when HardwareAvailable() is true.
uint32_t ExtendSse42(uint32_t crc, const char* data, size_t n);
bool HardwareAvailable();
}  // namespace detail

}  // namespace taskring::util::crc32c

#endif  // TASKRING_UTIL_CRC32C_H_
