// Random token secrets (taskring/job.h JobToken) for a producer's jobs, drawn from the kernel's
// CSPRNG (getrandom) a batch at a time: one syscall per 64 jobs instead of one per job, which
// the enqueue fast path would feel.
//
// Thread-safety: none (a Producer is used by one thread at a time). After fork() the child must
// not use its parent's source (it would repeat the parent's next secrets); Producers are not
// usable across fork anyway (their client entry belongs to the parent).
#ifndef TASKRING_UTIL_SECRET_SOURCE_H_
#define TASKRING_UTIL_SECRET_SOURCE_H_

#include <cstddef>
#include <cstdint>

namespace taskring::util {

class SecretSource {
 public:
  static constexpr size_t kSecretBytes = 12;
  // Fills out[0..11] with fresh random bytes. False (errno set) if the kernel gave none: a
  // token must never be guessable, so the caller refuses the job instead.
  [[nodiscard]] bool Next(uint8_t* out);

 private:
  static constexpr size_t kBatch = 64;
  uint8_t buffer_[kBatch * kSecretBytes];
  size_t used_ = kBatch;  // secrets of the buffer handed out
};

}  // namespace taskring::util

#endif  // TASKRING_UTIL_SECRET_SOURCE_H_
