// The C options structs: their defaults (the C++ structs' defaults) and the enqueue options'
// conversion.
#include "taskring/options.h"

#include <cstddef>
#include <string>

#include "capi/capi_internal.h"

namespace taskring::capi {

taskring_code ToEnqueueOptions(const taskring_enqueue_options* in, EnqueueOptions* out) {
  taskring_enqueue_options o;
  taskring_enqueue_options_init(&o);
  taskring_code c =
      CopyOptions(in, sizeof(taskring_enqueue_options), "taskring_enqueue_options", &o);
  if (c != TASKRING_OK) return c;
  if (o.priority != TASKRING_PRIORITY_DEFAULT) {
    if (o.priority < kMinPriority || o.priority > kMaxPriority) {
      return Record(Status::InvalidArgument("priority " + std::to_string(o.priority) +
                                            " is outside 0..9 (or TASKRING_PRIORITY_DEFAULT)"));
    }
    out->priority = o.priority;
  }
  if (o.type != nullptr) out->type = o.type;
  out->delay_ms = o.delay_ms;
  out->run_at_unix_ns = o.run_at_unix_ns;
  out->max_attempts = o.max_attempts;
  out->timeout_ms = o.timeout_ms;
  if (o.idempotency_key != nullptr) out->idempotency_key = o.idempotency_key;
  if (o.headers_count > 0 && o.headers == nullptr) {
    return InvalidArgument("taskring_enqueue_options.headers is NULL but headers_count is not 0");
  }
  for (size_t i = 0; i < o.headers_count; ++i) {
    if (o.headers[i].name == nullptr || o.headers[i].value == nullptr) {
      return Record(Status::InvalidArgument("taskring_enqueue_options.headers[" +
                                            std::to_string(i) + "] has a NULL name or value"));
    }
    out->headers.emplace_back(o.headers[i].name, o.headers[i].value);
  }
  return Ok();
}

}  // namespace taskring::capi

extern "C" {

void taskring_producer_options_init(taskring_producer_options* opts) {
  if (opts == nullptr) return;
  const taskring::ProducerOptions d;
  *opts = taskring_producer_options{};
  opts->struct_size = sizeof(*opts);
  opts->attach_timeout_ms = d.attach_timeout_ms;
  opts->wait_for_daemon_ms = d.wait_for_daemon_ms;
  opts->commit_timeout_ms = d.commit_timeout_ms;
  opts->spin_iterations = d.spin_iterations;
}

void taskring_enqueue_options_init(taskring_enqueue_options* opts) {
  if (opts == nullptr) return;
  *opts = taskring_enqueue_options{};
  opts->struct_size = sizeof(*opts);
  opts->priority = TASKRING_PRIORITY_DEFAULT;
}

void taskring_jobs_options_init(taskring_jobs_options* opts) {
  if (opts == nullptr) return;
  const taskring::JobClientOptions d;
  *opts = taskring_jobs_options{};
  opts->struct_size = sizeof(*opts);
  opts->attach_timeout_ms = d.attach_timeout_ms;
  opts->wait_for_daemon_ms = d.wait_for_daemon_ms;
  opts->cancel_timeout_ms = d.cancel_timeout_ms;
}

void taskring_worker_options_init(taskring_worker_options* opts) {
  if (opts == nullptr) return;
  const taskring::WorkerOptions d;
  *opts = taskring_worker_options{};
  opts->struct_size = sizeof(*opts);
  opts->attach_timeout_ms = d.attach_timeout_ms;
  opts->wait_for_daemon_ms = d.wait_for_daemon_ms;
  opts->spin_iterations = d.spin_iterations;
}

}  // extern "C"
