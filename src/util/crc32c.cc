#include "util/crc32c.h"

#include <boost/crc.hpp>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define TASKRING_CRC32C_X86 1
#endif

namespace taskring::util::crc32c {
namespace detail {

namespace {
uint32_t ReverseBits(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}
}  // namespace

uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n) {
  // Boost takes its initial remainder unreflected: undo the final xor and the output reflection
  // of crc to resume where crc left off.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> engine(ReverseBits(~crc));
  engine.process_bytes(data, n);
  return engine.checksum();
}

#ifdef TASKRING_CRC32C_X86
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const char* data, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  uint64_t l = ~crc;
#if defined(__x86_64__)
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));  // unaligned loads are fine on x86
    l = _mm_crc32_u64(l, word);
    p += 8;
    n -= 8;
  }
#endif
  uint32_t l32 = static_cast<uint32_t>(l);
  while (n > 0) {
    l32 = _mm_crc32_u8(l32, *p++);
    --n;
  }
  return ~l32;
}

bool HardwareAvailable() {
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}
#else
uint32_t ExtendSse42(uint32_t crc, const char* data, size_t n) {
  return ExtendPortable(crc, data, n);
}

bool HardwareAvailable() { return false; }
#endif

}  // namespace detail

uint32_t Extend(uint32_t crc, const char* data, size_t n) {
  return detail::HardwareAvailable() ? detail::ExtendSse42(crc, data, n)
                                     : detail::ExtendPortable(crc, data, n);
}

}  // namespace taskring::util::crc32c
