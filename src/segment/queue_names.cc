#include "segment/queue_names.h"

#include <string>

namespace taskring::segment {

Status ValidateQueueName(const std::string& name) {
  if (name.empty() || name.size() >= kMaxQueueName) {
    return Status::InvalidArgument("queue name must be 1.." + std::to_string(kMaxQueueName - 1) +
                                   " characters");
  }
  if (name[0] == '.') return Status::InvalidArgument("queue name must not start with '.'");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) {
      return Status::InvalidArgument("queue name '" + name +
                                     "' may only hold letters, digits, '_', '-' and '.'");
    }
  }
  return Status::OK();
}

std::string ShmName(const std::string& queue) { return "taskring." + queue; }
// '~' cannot occur in a queue name, so these never collide with another queue's segment.
std::string LockPath(const std::string& queue) { return "/dev/shm/taskring." + queue + "~lock"; }
std::string StagingShmName(const std::string& queue) { return "taskring." + queue + "~new"; }

}  // namespace taskring::segment
