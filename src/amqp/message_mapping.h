// How a taskring job becomes an AMQP message (the relay) and an AMQP message a taskring job
// (the bridge). docs/scale-out.md lists the fields.
//
// Relay -> RabbitMQ: message_id "ORIGIN/ID" (ORIGIN defaults to HOST/QUEUE, so ids are unique
// across hosts), type, priority (0..9), timestamp (enqueue time, s), persistent, the job's
// headers, and x-taskring-attempt and x-taskring-enqueued-ns headers.
// RabbitMQ -> bridge: message_id is the idempotency key, type and priority carry over, headers
// become job headers except the relay's own and those the broker adds (x-delivery-count,
// x-death, ...).
#ifndef TASKRING_AMQP_MESSAGE_MAPPING_H_
#define TASKRING_AMQP_MESSAGE_MAPPING_H_

#include <amqp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "taskring/job.h"
#include "taskring/options.h"
#include "taskring/status.h"

namespace taskring::amqp {

// Builds the properties of one job's message. They point into the builder and the job, so they
// are valid until the next Build or until the job is finished: publish at once.
class MessageBuilder {
 public:
  explicit MessageBuilder(std::string origin) : origin_(std::move(origin)) {}
  const amqp_basic_properties_t& Build(const Job& job);
  // The message id Build gives a job: what the bridge uses as the idempotency key.
  [[nodiscard]] std::string MessageId(uint64_t job_id) const;
  [[nodiscard]] const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::string message_id_;
  std::vector<amqp_table_entry_t> headers_;
  amqp_basic_properties_t properties_{};
};

// The job id in a message id Build made for this origin, or 0 (another origin, or not ours).
uint64_t JobIdOfMessageId(std::string_view message_id, std::string_view origin);

// What the bridge enqueues for a delivery.
struct MappedJob {
  EnqueueOptions options;  // type, priority, headers, idempotency key
  // From the relay's x-taskring-enqueued-ns header: when the job first entered a taskring queue
  // (0 when the message did not come through a relay). For the end-to-end lag metric.
  uint64_t origin_enqueued_unix_ns = 0;
};

// InvalidArgument, saying why, for a message that cannot become a job as it is (a message id
// that cannot be a key, a header that is a table): the bridge rejects it.
Status MapDelivery(const amqp_basic_properties_t& properties, MappedJob* out);

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_MESSAGE_MAPPING_H_
