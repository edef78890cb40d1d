// Producer: enqueues jobs into a queue served by taskringd.
//
// Enqueue returns OK once the job is accepted: logged by the daemon's WAL (and fdatasync'ed in
// fsync mode). A full queue answers Busy at once, with no side effect; RetryAfterMs() then holds
// a hint derived from the measured drain rate. Nothing here throws.
//
// Thread-safety: a Producer owns one lane of the segment and must be used by one thread at a
// time; open one per thread for parallel enqueues. It is cheap: one shared-memory mapping.
#ifndef TASKRING_PRODUCER_H_
#define TASKRING_PRODUCER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "taskring/export.h"
#include "taskring/job.h"
#include "taskring/options.h"
#include "taskring/status.h"

namespace taskring {

namespace client {
class Session;
}
namespace util {
class SecretSource;
}

struct EnqueueResult {
  Status status;        // OK (accepted), Busy, or an error
  uint64_t job_id = 0;  // valid when status.ok()
  // The idempotency key was seen within the dedup window: job_id is the first job's, and
  // nothing was created.
  bool duplicate = false;
  // The job's token (token.id == job_id), for a URL to poll: JobClient looks jobs up by it.
  // Of a duplicate: the first job's token, when its status is still kept (else invalid).
  JobToken token;
};

// One job of Producer::EnqueueBatch(items): its payload and its own options (nullptr: the
// defaults). The options are read during the call only.
struct EnqueueItem {
  std::string_view payload;
  const EnqueueOptions* options = nullptr;
};

class TASKRING_EXPORT Producer {
 public:
  // NotFound when the queue has no segment (no daemon ever ran, or it stopped cleanly), Closed
  // when its daemon stopped or died, NotReady when it is still starting after
  // attach_timeout_ms, ResourceExhausted when every client entry (--max-clients) is taken,
  // Corruption/Incompatible for a bad segment. With wait_for_daemon_ms, NotFound and Closed are
  // waited out first. A daemon refusing new jobs (storage fault) is attached to: each Enqueue
  // then reports IOError until the disk recovers.
  [[nodiscard]] static Status Open(const ProducerOptions& options, std::unique_ptr<Producer>* out);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues one job. InvalidArgument if the payload exceeds max_payload(); Busy when full;
  // Closed when the daemon is stopping or gone; IOError when it cannot log.
  // InvalidArgument also for a bad priority, type, header, key or run time.
  [[nodiscard]] Status Enqueue(std::string_view payload, uint64_t* job_id,
                               const EnqueueOptions& options = {});
  // The same, and says whether an idempotency key made it a duplicate. Returns result->status.
  Status Enqueue(std::string_view payload, const EnqueueOptions& options, EnqueueResult* result);
  // Enqueues many jobs with a single wait for the WAL commit, every one with `options` (which
  // may not hold an idempotency key: a key names one job). results[i] answers payloads[i]
  // (results.size() must be >= payloads.size()). Returns OK if the call itself worked, even if
  // some items were Busy or invalid; a daemon failure makes every unaccepted item fail.
  [[nodiscard]] Status EnqueueBatch(std::span<const std::string_view> payloads,
                                    std::span<EnqueueResult> results,
                                    const EnqueueOptions& options = {});
  // The same, each job with its own options, idempotency keys included (each key names its
  // one job): what `taskring bridge` uses to accept a batch of messages with one commit wait.
  // results[i] answers items[i], with `duplicate` set as Enqueue would.
  [[nodiscard]] Status EnqueueBatch(std::span<const EnqueueItem> items,
                                    std::span<EnqueueResult> results);
  // The status of a job by id (what an HTTP API polls to answer "202, check here"). The same
  // as JobClient::GetStatus, which many threads can share.
  [[nodiscard]] Status GetStatus(uint64_t job_id, JobStatus* out) const;

  // After a Busy: suggested wait in ms before retrying (Little's law: depth / drain rate).
  [[nodiscard]] uint32_t RetryAfterMs() const;
  [[nodiscard]] uint32_t max_payload() const;
  [[nodiscard]] uint32_t capacity() const;

 private:
  explicit Producer(std::unique_ptr<client::Session> session, const ProducerOptions& options);
  // What Enqueue and both EnqueueBatch forms do, for at most a lane's worth of items (the
  // daemon's answers to keyed items are read from their lane cells, which must not be reused).
  Status EnqueueMany(std::span<const EnqueueItem> items, std::span<EnqueueResult> results);
  std::unique_ptr<client::Session> session_;
  ProducerOptions options_;
  std::unique_ptr<util::SecretSource> secrets_;
  // EnqueueBatch(payloads)'s items, kept between calls so that a batch allocates nothing once
  // the vector has grown to the largest batch seen.
  std::vector<EnqueueItem> batch_items_;
};

}  // namespace taskring

#endif  // TASKRING_PRODUCER_H_
