#include "util/secret_source.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

namespace taskring::util {

bool SecretSource::Next(uint8_t* out) {
  if (used_ == kBatch) {
    size_t got = 0;
    while (got < sizeof(buffer_)) {
      const ssize_t n = ::getrandom(buffer_ + got, sizeof(buffer_) - got, 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
      } else if (errno != EINTR) {
        return false;  // a kernel without getrandom (older than 3.17)
      }
    }
    used_ = 0;
  }
  std::memcpy(out, buffer_ + used_ * kSecretBytes, kSecretBytes);
  ++used_;
  return true;
}

}  // namespace taskring::util
