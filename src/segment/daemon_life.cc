#include "segment/daemon_life.h"

#include <linux/futex.h>  // FUTEX_OWNER_DIED, FUTEX_TID_MASK: the kernel's robust-futex ABI
#include <pthread.h>

#include <atomic>
#include <cstddef>

namespace taskring::segment {

// Reads the robust futex word rather than asking pthreads, which can only answer by taking the
// mutex: pthread_mutex_trylock writes even when it fails (it faults on the read-only mappings of
// `taskring stat` and Attach(read_only)), a checker holding the free mutex for an instant makes
// a dead daemon look alive to a concurrent checker, and Enqueue/Take would pay a contended
// read-modify-write instead of a load. The daemon's flock (LockPath) is no substitute: a probe
// could make a starting daemon fail, costs syscalls, and names the queue, not this segment.
// The word's bits are the kernel's ABI (linux/futex.h); its place, first in pthread_mutex_t, is
// glibc's ABI, pinned here and checked against real threads and processes by daemon_life_test.
static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0, "futex word first (glibc ABI)");

bool DaemonLifeHeld(const SegmentHeader* h) {
  const int word = std::atomic_ref<int>(const_cast<int&>(h->daemon_life.__data.__lock))
                       .load(std::memory_order_acquire);
  return (word & FUTEX_OWNER_DIED) == 0 && (word & FUTEX_TID_MASK) != 0;
}

}  // namespace taskring::segment
