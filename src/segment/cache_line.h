// What every structure in the shared-memory segment is built from: cache-line-sized blocks of
// lock-free atomics. Each struct that lives in the segment pins its size and field offsets with
// static_asserts next to its definition, so a change of the bytes is a compile error (and calls
// for a new kLayoutVersion, segment_header.h).
#ifndef TASKRING_SEGMENT_CACHE_LINE_H_
#define TASKRING_SEGMENT_CACHE_LINE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace taskring::segment {

inline constexpr size_t kCacheLine = 64;

// Atomics in shared memory must not fall back to a lock kept in one process's memory.
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_CACHE_LINE_H_
