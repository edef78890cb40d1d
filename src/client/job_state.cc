#include "taskring/job.h"

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
  }
  return "unknown";
}

}  // namespace taskring
