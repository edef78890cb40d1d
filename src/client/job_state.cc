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

bool Job::cancel_requested() const {
  return deadline_mono_ns_ != 0 && util::NowMonoNs() >= deadline_mono_ns_;
}

}  // namespace taskring
