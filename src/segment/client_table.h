// The client table: one entry per attached producer or worker process. A process claims a free
// entry by CAS on `owner` (0 -> pid<<8 | kClaiming), fills in its identity, then publishes
// kActive. The daemon reclaims entries whose process died. Each entry also holds the cursors of
// the client's lane (lane.h) and the client's refusal counters.
#ifndef TASKRING_SEGMENT_CLIENT_TABLE_H_
#define TASKRING_SEGMENT_CLIENT_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "segment/cache_line.h"
#include "segment/metrics_catalog.h"

namespace taskring::segment {

inline constexpr size_t kClientEntryBytes = 512;

enum class ClientState : uint8_t { kFree = 0, kClaiming = 1, kActive = 2, kClosing = 3 };
enum class ClientRole : uint32_t { kProducer = 1, kWorker = 2 };

// Owner word: pid (32 bits, in bits 8..39) | ClientState (8); 0 is a free entry.
inline uint64_t PackClientOwner(int32_t pid, ClientState s) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 8) | static_cast<uint8_t>(s);
}
inline int32_t OwnerPid(uint64_t owner) { return static_cast<int32_t>(owner >> 8); }
inline ClientState OwnerState(uint64_t owner) { return static_cast<ClientState>(owner & 0xff); }

struct alignas(kCacheLine) ClientEntry {
  std::atomic<uint64_t> owner;        // see PackClientOwner
  std::atomic<uint64_t> start_ticks;  // with the pid, identifies the process across PID reuse
  std::atomic<uint32_t> role;         // ClientRole bits
  // The free-slot reference a producer is popping (free_stack.h): if it dies between the pop and
  // its claim, the daemon offers the slot again.
  std::atomic<uint64_t> popping;
  // Lane cursors: the client publishes `tail`, the daemon consumes up to `head` and, once the
  // records are in the WAL (and synced in fsync mode), advances `committed`.
  alignas(kCacheLine) std::atomic<uint64_t> tail;
  alignas(kCacheLine) std::atomic<uint64_t> head;
  alignas(kCacheLine) std::atomic<uint64_t> committed;
  std::atomic<uint32_t> commit_futex;  // low bits of committed; futex word for waiters
  std::atomic<uint32_t> commit_waiters;
  // Refusals counted by whichever client holds the entry (one writer at a time: load + store).
  // Never reset, not even when the entry changes hands, so their sum over all entries only
  // grows, as a Prometheus counter must.
  alignas(kCacheLine) std::atomic<uint64_t> rejected[kRejectReasonCount];
  // A worker declaring job types takes typed jobs only from the daemon's offers (job_router.h):
  // `offer` holds one job (a slot ref) the daemon offered it, 0 = none. The worker writes the
  // ref it is taking into `taking` before it clears `offer`, so a death in between loses nothing
  // (as `popping` above). `want` is 1 while it waits in Take; it sleeps on `offer_futex`.
  alignas(kCacheLine) std::atomic<uint64_t> offer;
  std::atomic<uint64_t> taking;
  std::atomic<uint32_t> want;
  std::atomic<uint32_t> offer_futex;
  std::atomic<uint32_t> offer_sleepers;
  // The declaration: type_count == 0 takes every job through the dispatch rings; otherwise only
  // the types in type_hashes (JobTypeHash), and untyped jobs if takes_untyped. Written before
  // the entry is published or, when it changes, followed by a bump of clients_epoch.
  std::atomic<uint32_t> type_count;
  std::atomic<uint32_t> takes_untyped;
  // Bytes of the result or error text in this client's result buffer (segment.h result()) for
  // its next kCompleteResult/kFailError record; the daemon validates it against the buffer.
  std::atomic<uint32_t> result_len;
  alignas(kCacheLine) std::atomic<uint64_t> type_hashes[16];
};
static_assert(sizeof(ClientEntry) == kClientEntryBytes);
static_assert(offsetof(ClientEntry, owner) == 0);
static_assert(offsetof(ClientEntry, start_ticks) == 8);
static_assert(offsetof(ClientEntry, role) == 16);
static_assert(offsetof(ClientEntry, popping) == 24);
static_assert(offsetof(ClientEntry, tail) == 64);
static_assert(offsetof(ClientEntry, head) == 128);
static_assert(offsetof(ClientEntry, committed) == 192);
static_assert(offsetof(ClientEntry, commit_futex) == 200);
static_assert(offsetof(ClientEntry, commit_waiters) == 204);
static_assert(offsetof(ClientEntry, rejected) == 256);
static_assert(offsetof(ClientEntry, offer) == 320);
static_assert(offsetof(ClientEntry, taking) == 328);
static_assert(offsetof(ClientEntry, want) == 336);
static_assert(offsetof(ClientEntry, offer_futex) == 340);
static_assert(offsetof(ClientEntry, offer_sleepers) == 344);
static_assert(offsetof(ClientEntry, type_count) == 348);
static_assert(offsetof(ClientEntry, takes_untyped) == 352);
static_assert(offsetof(ClientEntry, result_len) == 356);
static_assert(offsetof(ClientEntry, type_hashes) == 384);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_CLIENT_TABLE_H_
