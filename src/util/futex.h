// Cross-process futex on a 32-bit word in shared memory (not FUTEX_PRIVATE: waiters and wakers
// are different processes).
#ifndef TASKRING_UTIL_FUTEX_H_
#define TASKRING_UTIL_FUTEX_H_

#include <atomic>
#include <cstdint>

namespace taskring::util {

// Sleeps while *word == expected, at most timeout_ns (0 = no limit). Returns false on timeout.
// Spurious wake-ups are possible: callers re-check their condition.
bool FutexWait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t timeout_ns);
// Wakes up to n waiters on word.
void FutexWake(std::atomic<uint32_t>* word, int n);

// Spin-then-sleep wait used by every consumer: spin `spins` rounds re-checking ready(), then
// register as a sleeper and futex-wait on `word`. The matching waker publishes, then calls
// WakeIfSleepers. Publication and the sleepers check are seq_cst, so either the waiter sees the
// item or the waker sees the sleeper: no lost wake-ups, and no syscall when nobody sleeps.
template <typename Ready>
bool SpinThenWait(std::atomic<uint32_t>* word, std::atomic<uint32_t>* sleepers, int spins,
                  uint64_t timeout_ns, Ready ready) {
  for (int i = 0; i < spins; ++i) {
    if (ready()) return true;
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  const uint32_t seen = word->load(std::memory_order_seq_cst);
  sleepers->fetch_add(1, std::memory_order_seq_cst);
  bool got = ready();
  if (!got) {
    FutexWait(word, seen, timeout_ns);
    got = ready();
  }
  sleepers->fetch_sub(1, std::memory_order_seq_cst);
  return got;
}

inline void WakeIfSleepers(std::atomic<uint32_t>* word, std::atomic<uint32_t>* sleepers, int n) {
  // A seq_cst read-modify-write rather than fence + load: the same full barrier (one locked
  // instruction on x86), and one that ThreadSanitizer models.
  if (sleepers->fetch_add(0, std::memory_order_seq_cst) != 0) {
    word->fetch_add(1, std::memory_order_seq_cst);
    FutexWake(word, n);
  }
}

}  // namespace taskring::util

#endif  // TASKRING_UTIL_FUTEX_H_
