// The status table: what producers poll to learn a job's state. Each entry is one atomic word,
// id (48 bits) | state code (8) | attempt (8), so a reader never sees a torn entry, plus the
// time it was set, the job's slot and its token secret. Indexed by id & (status_entries - 1): a
// newer job overwrites the entry of an older one, which then reads as another job's (UnpackStatus
// returns false). Never the entry of a live job: a producer drawing an id whose entry holds a live
// job draws again (HoldsLiveJob), so a live job is always found in O(1), through its entry's slot;
// a finished one is in the outcome store (outcome/).
#ifndef TASKRING_SEGMENT_STATUS_TABLE_H_
#define TASKRING_SEGMENT_STATUS_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "taskring/job.h"

namespace taskring::segment {

// A job's state as stored in the table. The numbers are the public JobState's (asserted below),
// so the table and the API cannot drift apart; UnpackStatus is the one conversion.
enum class JobStateCode : uint8_t {
  kUnknown = 0,
  kPending = 1,
  kQueued = 2,
  kRunning = 3,
  kDelayed = 4,
  kCompleted = 5,
  kFailedRetrying = 6,
  kDead = 7,
  kCancelled = 9,  // 8 is the public kExpired, which the table never holds
};
static_assert(static_cast<uint8_t>(JobStateCode::kUnknown) ==
              static_cast<uint8_t>(JobState::kUnknown));
static_assert(static_cast<uint8_t>(JobStateCode::kPending) ==
              static_cast<uint8_t>(JobState::kPending));
static_assert(static_cast<uint8_t>(JobStateCode::kQueued) ==
              static_cast<uint8_t>(JobState::kQueued));
static_assert(static_cast<uint8_t>(JobStateCode::kRunning) ==
              static_cast<uint8_t>(JobState::kRunning));
static_assert(static_cast<uint8_t>(JobStateCode::kDelayed) ==
              static_cast<uint8_t>(JobState::kDelayed));
static_assert(static_cast<uint8_t>(JobStateCode::kCompleted) ==
              static_cast<uint8_t>(JobState::kCompleted));
static_assert(static_cast<uint8_t>(JobStateCode::kFailedRetrying) ==
              static_cast<uint8_t>(JobState::kRetrying));
static_assert(static_cast<uint8_t>(JobStateCode::kDead) == static_cast<uint8_t>(JobState::kDead));
// JobState::kExpired is never stored: GetStatus reports it when a job's entry and slot are gone.
static_assert(static_cast<uint8_t>(JobState::kExpired) > static_cast<uint8_t>(JobStateCode::kDead));

struct StatusEntry {
  std::atomic<uint64_t> packed;  // see PackStatus
  std::atomic<uint64_t> updated_unix_ns;
  // The job's slot while it is live: written by its producer before the kPending state (and by
  // the daemon for the jobs it recovers). Validated against the slot's job id by readers.
  std::atomic<uint32_t> slot;
  // The job's token secret (taskring/job.h), written with the slot. Here rather than beside the
  // slot: the producer, the worker and the daemon touch this line for every job anyway. Atomic
  // words: a reader may look at an entry being refilled (it rejects what it read by the id).
  std::atomic<uint32_t> secret[3];
};
inline constexpr size_t kTokenSecretBytes = sizeof(StatusEntry::secret);
static_assert(sizeof(StatusEntry) == 32);
static_assert(offsetof(StatusEntry, packed) == 0);
static_assert(offsetof(StatusEntry, updated_unix_ns) == 8);
static_assert(offsetof(StatusEntry, slot) == 16);
static_assert(offsetof(StatusEntry, secret) == 20);

inline void StoreSecret(StatusEntry* e, const uint8_t* secret) {
  for (size_t w = 0; w < kTokenSecretBytes / 4; ++w) {
    uint32_t v;
    std::memcpy(&v, secret + 4 * w, 4);
    e->secret[w].store(v, std::memory_order_relaxed);
  }
}
inline void LoadSecret(const StatusEntry* e, uint8_t* secret) {
  for (size_t w = 0; w < kTokenSecretBytes / 4; ++w) {
    const uint32_t v = e->secret[w].load(std::memory_order_relaxed);
    std::memcpy(secret + 4 * w, &v, 4);
  }
}

// Attempts above 255 are stored as 255.
inline uint64_t PackStatus(uint64_t id, JobStateCode s, uint32_t attempt) {
  return (id << 16) | (static_cast<uint64_t>(s) << 8) | (attempt > 255 ? 255 : attempt);
}

// Whether a `packed` word names a job that has not finished (pending, queued, running, delayed or
// retrying): its entry must not be taken by a newer id.
inline bool HoldsLiveJob(uint64_t packed) {
  const auto code = static_cast<JobStateCode>((packed >> 8) & 0xff);
  return code == JobStateCode::kPending || code == JobStateCode::kQueued ||
         code == JobStateCode::kRunning || code == JobStateCode::kDelayed ||
         code == JobStateCode::kFailedRetrying;
}

// Reads a `packed` word for `job_id`: false if it belongs to another job (only the low 48 bits
// of the id are stored). Otherwise sets the public state, kUnknown for a code no build writes
// (the table is shared memory: anyone can scribble on it), and the attempt.
[[nodiscard]] bool UnpackStatus(uint64_t packed, uint64_t job_id, JobState* state,
                                uint32_t* attempt);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_STATUS_TABLE_H_
