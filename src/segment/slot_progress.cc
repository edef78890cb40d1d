// The progress seqlock of SlotExtra (slot.h). One writer at a time (the lease holder); readers
// in any process retry a few times and give up rather than wait on a writer that may have died.
#include <algorithm>
#include <atomic>

#include "segment/slot.h"

namespace taskring::segment {

void WriteProgress(SlotExtra* x, uint32_t attempt, uint8_t percent, std::string_view message) {
  const size_t len = std::min(message.size(), kMaxProgressMessage);
  char bytes[kMaxProgressMessage] = {};
  if (len != 0) std::memcpy(bytes, message.data(), len);  // data() may be null when empty
  // Odd while writing; a writer that died mid-report left it odd, and this one makes it even.
  const uint32_t seq = x->progress_seq.load(std::memory_order_relaxed) | 1u;
  x->progress_seq.store(seq, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  x->progress_attempt.store(attempt, std::memory_order_relaxed);
  x->progress_percent.store(percent, std::memory_order_relaxed);
  x->progress_len.store(static_cast<uint8_t>(len), std::memory_order_relaxed);
  for (size_t w = 0; w < kMaxProgressMessage / 8; ++w) {
    uint64_t v;
    std::memcpy(&v, bytes + 8 * w, 8);
    x->progress_message[w].store(v, std::memory_order_relaxed);
  }
  x->progress_seq.store(seq + 1, std::memory_order_release);
}

bool ReadProgress(const SlotExtra* x, uint32_t attempt, uint8_t* percent, std::string* message) {
  for (int tries = 0; tries < 8; ++tries) {
    const uint32_t before = x->progress_seq.load(std::memory_order_acquire);
    if ((before & 1u) != 0) continue;
    const uint32_t got_attempt = x->progress_attempt.load(std::memory_order_relaxed);
    const uint8_t got_percent = x->progress_percent.load(std::memory_order_relaxed);
    const size_t len =
        std::min<size_t>(x->progress_len.load(std::memory_order_relaxed), kMaxProgressMessage);
    char bytes[kMaxProgressMessage];
    for (size_t w = 0; w < kMaxProgressMessage / 8; ++w) {
      const uint64_t v = x->progress_message[w].load(std::memory_order_relaxed);
      std::memcpy(bytes + 8 * w, &v, 8);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (x->progress_seq.load(std::memory_order_relaxed) != before) continue;
    if (got_attempt == 0 || got_attempt != attempt) return false;
    *percent = std::min<uint8_t>(got_percent, 100);
    message->assign(bytes, len);
    return true;
  }
  return false;
}

}  // namespace taskring::segment
