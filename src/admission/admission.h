// Admission: whether a new job may enter the queue. Capacity is fixed at creation and an
// accepted job *is* an occupied job slot, so admission is taking a free slot from the free stack:
// exact under any number of producers, lock-free, and BUSY (an empty stack) changes nothing.
#ifndef TASKRING_ADMISSION_ADMISSION_H_
#define TASKRING_ADMISSION_ADMISSION_H_

#include <cstdint>

#include "segment/segment.h"

namespace taskring::admission {

// Claims a free slot for `client` (slot word FREE -> WRITING(client)). False means BUSY.
// A stack entry whose generation is stale (offered again after a producer died mid-pop) fails
// the CAS and is skipped, so a stale hint can never hand one slot to two producers.
[[nodiscard]] bool TryAcquireSlot(const segment::Segment& seg, uint32_t client, uint32_t* slot,
                                  uint32_t* gen);

// Retry-after hint for a BUSY answer, by Little's law: the queue ahead (`depth` jobs) drains in
// about depth / throughput. `drain_rate_milli` is completions per 1000 s; 0 = not measured yet.
// Clamped to [1 ms, 10 s].
[[nodiscard]] uint32_t RetryAfterMs(uint64_t depth, uint64_t drain_rate_milli);

}  // namespace taskring::admission

#endif  // TASKRING_ADMISSION_ADMISSION_H_
