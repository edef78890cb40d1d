// Job slots and their state machine. A slot holds one job: a SlotHeader and the payload after
// it. Its 64-bit state word packs generation | owner client | state, so one CAS both checks that
// a hint (a ring entry naming the slot and a generation) is current and transfers ownership.
// The word is the single authority on who owns a job (docs/architecture.md).
#ifndef TASKRING_SEGMENT_SLOT_H_
#define TASKRING_SEGMENT_SLOT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "segment/cache_line.h"

namespace taskring::segment {

inline constexpr size_t kSlotHeaderBytes = 64;

enum class SlotState : uint8_t {
  kFree = 0,       // in (or on its way to) the free ring
  kWriting = 1,    // claimed by a producer, payload being written
  kSubmitted = 2,  // handed to the daemon via a lane, not yet in the WAL
  kQueued = 3,     // durable and in the dispatch ring (or the daemon's ready list)
  kRunning = 4,    // leased by a worker
  kDelayed = 5,    // waiting for a retry time (daemon-held)
  // The worker fenced its own lease before reporting: from here the daemon can no longer revoke
  // it, so a Complete that returned OK is never overtaken by a redelivery.
  kCompleting = 6,
  kFailing = 7,
};

// The owner field of a slot no client holds (free, or held by the daemon). Client indexes stay
// below it (ComputeLayout limits max_clients).
inline constexpr uint32_t kNoClient = 0xffff;

// State word: generation (32 bits) | owner client index (16) | unused (8) | SlotState (8).
inline uint64_t PackSlotWord(uint32_t gen, uint32_t owner, SlotState s) {
  return (static_cast<uint64_t>(gen) << 32) | (static_cast<uint64_t>(owner & 0xffff) << 8) |
         static_cast<uint8_t>(s);
}
inline uint32_t SlotGen(uint64_t w) { return static_cast<uint32_t>(w >> 32); }
inline uint32_t SlotOwner(uint64_t w) { return static_cast<uint32_t>((w >> 8) & 0xffff); }
inline SlotState SlotStateOf(uint64_t w) { return static_cast<SlotState>(w & 0xff); }
// Leased: a worker holds the job (running, or fenced for its outcome).
inline bool IsLeased(SlotState s) {
  return s == SlotState::kRunning || s == SlotState::kCompleting || s == SlotState::kFailing;
}
// Live: an accepted job that has not finished; its ENQUEUE record must stay in the WAL.
inline bool IsLive(SlotState s) {
  return s == SlotState::kQueued || s == SlotState::kDelayed || IsLeased(s);
}

struct alignas(kCacheLine) SlotHeader {
  std::atomic<uint64_t> word;  // see PackSlotWord
  uint64_t job_id;
  uint64_t enqueued_unix_ns;
  uint64_t started_unix_ns;
  uint32_t payload_len;
  std::atomic<uint32_t> attempt;  // attempts started so far; the lease token of this run
  uint32_t max_attempts;
  uint8_t priority;  // kMinPriority..kMaxPriority (validated by every reader)
  uint8_t reserved0;
  uint16_t meta_len;  // bytes of the job's meta (job_meta.h), after the payload; 0 = none
  uint64_t not_before_unix_ns;
  uint32_t timeout_ms;  // execution limit of an attempt; 0 = none
  uint32_t reserved1;
};
static_assert(sizeof(SlotHeader) == kSlotHeaderBytes);
static_assert(offsetof(SlotHeader, word) == 0);
static_assert(offsetof(SlotHeader, job_id) == 8);
static_assert(offsetof(SlotHeader, enqueued_unix_ns) == 16);
static_assert(offsetof(SlotHeader, started_unix_ns) == 24);
static_assert(offsetof(SlotHeader, payload_len) == 32);
static_assert(offsetof(SlotHeader, attempt) == 36);
static_assert(offsetof(SlotHeader, max_attempts) == 40);
static_assert(offsetof(SlotHeader, priority) == 44);
static_assert(offsetof(SlotHeader, meta_len) == 46);
static_assert(offsetof(SlotHeader, not_before_unix_ns) == 48);
static_assert(offsetof(SlotHeader, timeout_ms) == 56);

// What a slot holds beside its header, on lines of their own so the daemon's scans of headers do
// not pull them in: the progress its worker reports, and a cancel request. A plain job never
// touches them but in the daemon, which resets them when it frees the slot (ResetSlotExtra), so
// they cost a plain job no cache-line transfer between processes. Progress is a seqlock written
// by the lease holder only (progress_seq odd while it writes; a writer that dies mid-write leaves
// it odd, readers then give up and the next report repairs it); a stale worker's report carries
// its old attempt and is ignored by readers.
inline constexpr size_t kMaxProgressMessage = 96;
struct alignas(kCacheLine) SlotExtra {
  // Atomic words, as everything here: a reader may look at a slot being refilled (it then
  // rejects what it read by the slot's job id), and torn bytes must not be a data race.
  uint32_t reserved_words[3];
  std::atomic<uint32_t> cancel;  // 1: cancellation requested (the daemon sets it)
  std::atomic<uint32_t> progress_seq;
  std::atomic<uint32_t> progress_attempt;  // 0: no report yet
  std::atomic<uint8_t> progress_percent;
  std::atomic<uint8_t> progress_len;
  uint16_t reserved0;
  uint32_t reserved1;
  std::atomic<uint64_t> progress_message[kMaxProgressMessage / 8];
};
static_assert(sizeof(SlotExtra) == 128);
static_assert(offsetof(SlotExtra, cancel) == 12);
static_assert(offsetof(SlotExtra, progress_seq) == 16);
static_assert(offsetof(SlotExtra, progress_attempt) == 20);
static_assert(offsetof(SlotExtra, progress_percent) == 24);
static_assert(offsetof(SlotExtra, progress_len) == 25);
static_assert(offsetof(SlotExtra, progress_message) == 32);

// Resets the extras of a slot for its next job: the daemon does it as it frees the slot or
// places a recovered job in it.
inline void ResetSlotExtra(SlotExtra* x) {
  x->cancel.store(0, std::memory_order_relaxed);
  x->progress_attempt.store(0, std::memory_order_relaxed);
  x->progress_len.store(0, std::memory_order_relaxed);
}

// The lease holder's progress report (seqlock: see SlotExtra). `message` is cut to
// kMaxProgressMessage bytes.
void WriteProgress(SlotExtra* x, uint32_t attempt, uint8_t percent, std::string_view message);
// The latest report of `attempt`; false if there is none (or a writer died mid-report).
bool ReadProgress(const SlotExtra* x, uint32_t attempt, uint8_t* percent, std::string* message);

// A job as it enters a slot: a producer's enqueue, or the daemon placing a recovered job. One
// writer of the header's fields, so the two cannot drift apart. The state word is the caller's
// to publish afterwards (release), once the payload is in place too.
struct SlotJob {
  uint64_t job_id = 0;
  uint64_t enqueued_unix_ns = 0;
  uint32_t payload_len = 0;
  uint32_t attempts_made = 0;
  uint32_t max_attempts = 0;
  uint64_t not_before_unix_ns = 0;  // 0: runnable at once
  uint8_t priority = 0;
  uint16_t meta_len = 0;
  uint32_t timeout_ms = 0;
};
inline void FillSlotHeader(SlotHeader* h, const SlotJob& job) {
  h->job_id = job.job_id;
  h->enqueued_unix_ns = job.enqueued_unix_ns;
  h->started_unix_ns = 0;
  h->payload_len = job.payload_len;
  h->attempt.store(job.attempts_made, std::memory_order_relaxed);
  h->max_attempts = job.max_attempts;
  h->priority = job.priority;
  h->reserved0 = 0;
  h->meta_len = job.meta_len;
  h->not_before_unix_ns = job.not_before_unix_ns;
  h->timeout_ms = job.timeout_ms;
  h->reserved1 = 0;
}

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_SLOT_H_
