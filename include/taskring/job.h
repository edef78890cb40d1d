// Job: what a worker holds between Take and Complete/Fail, and a job's status as seen by
// producers polling it.
#ifndef TASKRING_JOB_H_
#define TASKRING_JOB_H_

#include <array>
#include <atomic>
#include <cstddef>
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
  kExpired = 8,    // finished longer ago than the daemon's --result-ttl (or evicted)
  kCancelled = 9,  // terminal: cancelled (by id or a queue purge) before or while it ran
};
TASKRING_EXPORT const char* JobStateName(JobState s);
// True for kCompleted, kDead, kCancelled and kExpired: the job will not change again.
TASKRING_EXPORT bool IsTerminal(JobState s);

// A job's token: its id and 96 random bits, written as 40 lowercase hex digits (the id's 16,
// then the secret's 24). What URLs carry instead of the bare id: a client that knows one token
// cannot derive another job's. Tokens are checked in constant time.
struct TASKRING_EXPORT JobToken {
  static constexpr size_t kSecretBytes = 12;
  static constexpr size_t kChars = 40;
  uint64_t id = 0;
  std::array<uint8_t, kSecretBytes> secret{};
  [[nodiscard]] bool valid() const { return id != 0; }
  [[nodiscard]] std::string ToString() const;
  // False unless `text` is exactly 40 hex digits naming a non-zero id.
  [[nodiscard]] static bool Parse(std::string_view text, JobToken* out);
};

// What a job is and how far it got: JobClient::GetStatus (or Producer::GetStatus).
struct JobStatus {
  uint64_t id = 0;
  JobState state = JobState::kUnknown;
  uint32_t attempt = 0;          // attempts started (capped at 255 while it is live)
  uint64_t updated_unix_ns = 0;  // when the state was last set
  // The rest is filled in when the job is live or its outcome is still kept (not kExpired,
  // kUnknown or kPending).
  std::string token;  // JobToken::ToString()
  uint32_t max_attempts = 0;
  int priority = 0;
  std::string type;
  std::vector<std::pair<std::string, std::string>> headers;
  // The running attempt's latest report (Worker::ReportProgress); not kept after the job ends.
  bool has_progress = false;
  uint32_t progress_percent = 0;
  std::string progress_message;
  uint64_t enqueued_unix_ns = 0;
  uint64_t started_unix_ns = 0;   // the latest attempt's start; 0 if it never started
  uint64_t finished_unix_ns = 0;  // terminal, or the latest failed attempt's end
  std::string error;              // the latest failed attempt's error, if any
  uint64_t result_bytes = 0;      // kCompleted: the size of its result (JobClient::GetResult)
  bool cancel_requested = false;  // a cancel reached it while it ran
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
  // True once the attempt is past its timeout or someone cancelled the job
  // (JobClient::Cancel): a handler should check it between steps and return early. A handler
  // that then fails ends the job as cancelled (not retried); one that completes completes it.
  [[nodiscard]] bool cancel_requested() const;
  // The job's token (for a URL a handler reports, for example).
  [[nodiscard]] const JobToken& token() const { return token_; }

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
  const std::atomic<uint32_t>* cancel_flag_ = nullptr;  // in the segment (SlotExtra::cancel)
  JobToken token_;
  std::string type_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace taskring

#endif  // TASKRING_JOB_H_
