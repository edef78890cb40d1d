#include "taskring/job.h"
#include "util/clock.h"

namespace taskring {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kUnknown: return "unknown";
    case JobState::kPending: return "pending";
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDelayed: return "delayed";
    case JobState::kCompleted: return "completed";
    case JobState::kRetrying: return "retrying";
    case JobState::kDead: return "dead";
    case JobState::kExpired: return "expired";
    case JobState::kCancelled: return "cancelled";
  }
  return "unknown";
}

bool IsTerminal(JobState s) {
  return s == JobState::kCompleted || s == JobState::kDead || s == JobState::kCancelled ||
         s == JobState::kExpired;
}

bool Job::cancel_requested() const {
  if (cancel_flag_ != nullptr && cancel_flag_->load(std::memory_order_relaxed) != 0) return true;
  return deadline_mono_ns_ != 0 && util::NowMonoNs() >= deadline_mono_ns_;
}

std::string JobToken::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kChars, '0');
  for (int i = 0; i < 16; ++i) out[i] = kHex[(id >> (60 - 4 * i)) & 0xf];
  for (size_t i = 0; i < kSecretBytes; ++i) {
    out[16 + 2 * i] = kHex[secret[i] >> 4];
    out[17 + 2 * i] = kHex[secret[i] & 0xf];
  }
  return out;
}

bool JobToken::Parse(std::string_view text, JobToken* out) {
  if (text.size() != kChars) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  JobToken t;
  for (size_t i = 0; i < kChars; ++i) {
    const int v = nibble(text[i]);
    if (v < 0) return false;
    if (i < 16) {
      t.id = (t.id << 4) | static_cast<uint64_t>(v);
    } else {
      const size_t b = (i - 16) / 2;
      t.secret[b] = static_cast<uint8_t>((t.secret[b] << 4) | v);
    }
  }
  if (t.id == 0) return false;
  *out = t;
  return true;
}

}  // namespace taskring
