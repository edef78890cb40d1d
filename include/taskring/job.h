// Job: what a worker holds between Take and Complete/Fail, and a job's status as seen by
// producers polling it.
#ifndef TASKRING_JOB_H_
#define TASKRING_JOB_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskring/export.h"

namespace taskring {

enum class JobState : uint8_t {
  kUnknown = 0,    // never enqueued (id beyond the last assigned)
  kPending = 1,    // handed to the daemon, not yet in the WAL (not yet Accepted)
  kQueued = 2,     // accepted, waiting for a worker
  kRunning = 3,    // leased by a worker
  kDelayed = 4,    // waiting for its run time (retry backoff)
  kCompleted = 5,  // terminal: a handler succeeded
  kRetrying = 6,   // a handler failed; will run again
  kDead = 7,       // terminal: failed max_attempts times, dead-lettered
  kExpired = 8,    // finished long ago; its status is no longer retained
  kCancelled = 9,  // terminal: removed before it ran (queue purge)
};
TASKRING_EXPORT const char* JobStateName(JobState s);

struct JobStatus {
  uint64_t id = 0;
  JobState state = JobState::kUnknown;
  uint32_t attempt = 0;          // attempts started (capped at 255 in the status table)
  uint64_t updated_unix_ns = 0;  // when the state was last set
};

// A job taken by a worker. The payload view points into shared memory and stays valid until the
// job is completed or failed through the Worker that took it; copy it if you need it longer.
class Job {
 public:
  Job() = default;
  [[nodiscard]] uint64_t id() const { return id_; }
  // 1 on the first run; higher after a failure or a redelivery (worker death).
  [[nodiscard]] uint32_t attempt() const { return attempt_; }
  [[nodiscard]] uint32_t max_attempts() const { return max_attempts_; }
  [[nodiscard]] std::string_view payload() const { return payload_; }
  [[nodiscard]] uint64_t enqueued_unix_ns() const { return enqueued_unix_ns_; }
  [[nodiscard]] bool valid() const { return id_ != 0; }
  // What the producer set (EnqueueOptions); "" for an untyped job.
  [[nodiscard]] const std::string& type() const { return type_; }
  [[nodiscard]] int priority() const { return priority_; }
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& headers() const {
    return headers_;
  }
  // The value of the first header called `name`, if any.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [k, v] : headers_) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  // This attempt's execution limit (0: none) and whether it has passed: a handler should check
  // cancel_requested() between steps and return early; its attempt fails as timed out anyway.
  [[nodiscard]] uint32_t timeout_ms() const { return timeout_ms_; }
  [[nodiscard]] bool cancel_requested() const;

 private:
  friend class Worker;
  uint64_t id_ = 0;
  uint32_t attempt_ = 0;
  uint32_t max_attempts_ = 0;
  uint64_t enqueued_unix_ns_ = 0;
  std::string_view payload_;
  uint32_t slot_ = 0;      // where it lives in the segment
  uint32_t slot_gen_ = 0;  // with attempt_, the lease's fencing token
  int priority_ = 0;
  uint32_t timeout_ms_ = 0;
  uint64_t deadline_mono_ns_ = 0;  // when timeout_ms_ passes (CLOCK_MONOTONIC); 0: never
  std::string type_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace taskring

#endif  // TASKRING_JOB_H_
