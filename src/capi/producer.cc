// taskring_producer: taskring::Producer behind the C ABI.
#include <string>
#include <vector>

#include "capi/capi_internal.h"

using taskring::capi::Guard;
using taskring::capi::InvalidArgument;
using taskring::capi::Record;

namespace {

void FillResult(const taskring::EnqueueResult& r, taskring_enqueue_result* out) {
  out->code = static_cast<taskring_code>(r.status.code());
  out->id = r.status.ok() ? r.job_id : 0;
  out->duplicate = r.duplicate ? 1 : 0;
  taskring::capi::CopyToken(r.token, &out->token);
}

}  // namespace

extern "C" {

taskring_code taskring_producer_open(const char* queue, const taskring_producer_options* opts,
                                     taskring_producer** out) {
  return Guard([&] {
    if (out != nullptr) *out = nullptr;
    if (queue == nullptr) return InvalidArgument("taskring_producer_open: queue is NULL");
    if (out == nullptr) return InvalidArgument("taskring_producer_open: out is NULL");
    taskring_producer_options o;
    taskring_producer_options_init(&o);
    taskring_code c = taskring::capi::CopyOptions(opts, sizeof(taskring_producer_options),
                                                  "taskring_producer_options", &o);
    if (c != TASKRING_OK) return c;
    taskring::ProducerOptions po;
    po.queue = queue;
    po.attach_timeout_ms = o.attach_timeout_ms;
    po.wait_for_daemon_ms = o.wait_for_daemon_ms;
    po.commit_timeout_ms = o.commit_timeout_ms;
    po.spin_iterations = o.spin_iterations;
    auto handle = std::make_unique<taskring_producer>();
    taskring::Status s = taskring::Producer::Open(po, &handle->impl);
    if (!s.ok()) return Record(s);
    *out = handle.release();
    return Record(s);
  });
}

void taskring_producer_close(taskring_producer* p) { delete p; }

taskring_code taskring_producer_enqueue(taskring_producer* p, const void* data, size_t len,
                                        const taskring_enqueue_options* opts,
                                        taskring_enqueue_result* out) {
  return Guard([&] {
    if (out != nullptr) *out = taskring_enqueue_result{};
    if (p == nullptr) return InvalidArgument("taskring_producer_enqueue: producer is NULL");
    if (out == nullptr) return InvalidArgument("taskring_producer_enqueue: out is NULL");
    if (!taskring::capi::ValidBytes(data, len)) {
      return InvalidArgument("taskring_producer_enqueue: data is NULL but len is not 0");
    }
    taskring::EnqueueOptions eo;
    taskring_code c = taskring::capi::ToEnqueueOptions(opts, &eo);
    if (c != TASKRING_OK) {
      out->code = c;
      return c;
    }
    taskring::EnqueueResult r;
    taskring::Status s = p->impl->Enqueue(taskring::capi::Bytes(data, len), eo, &r);
    FillResult(r, out);
    return Record(s);
  });
}

taskring_code taskring_producer_enqueue_batch(taskring_producer* p,
                                              const taskring_payload* payloads, size_t count,
                                              const taskring_enqueue_options* opts,
                                              taskring_enqueue_result* results) {
  return Guard([&] {
    if (p == nullptr) return InvalidArgument("taskring_producer_enqueue_batch: producer is NULL");
    if (count == 0) return taskring::capi::Ok();
    if (payloads == nullptr || results == nullptr) {
      return InvalidArgument("taskring_producer_enqueue_batch: payloads or results is NULL");
    }
    // Until the batch is sent every item has failed with the call (no item reads OK unsent).
    auto fail_all = [&](taskring_code c) {
      for (size_t i = 0; i < count; ++i) results[i].code = c;
      return c;
    };
    for (size_t i = 0; i < count; ++i) results[i] = taskring_enqueue_result{};
    std::vector<std::string_view> views(count);
    for (size_t i = 0; i < count; ++i) {
      if (!taskring::capi::ValidBytes(payloads[i].data, payloads[i].len)) {
        return fail_all(Record(taskring::Status::InvalidArgument(
            "taskring_producer_enqueue_batch: payloads[" + std::to_string(i) +
            "].data is NULL but its len is not 0")));
      }
      views[i] = taskring::capi::Bytes(payloads[i].data, payloads[i].len);
    }
    taskring::EnqueueOptions eo;
    taskring_code c = taskring::capi::ToEnqueueOptions(opts, &eo);
    if (c != TASKRING_OK) return fail_all(c);
    std::vector<taskring::EnqueueResult> rs(count);
    taskring::Status s = p->impl->EnqueueBatch(views, rs, eo);
    for (size_t i = 0; i < count; ++i) {
      FillResult(rs[i], &results[i]);
      // A call that failed before reaching an item leaves its status OK with no id: the item
      // failed with the call.
      if (!s.ok() && results[i].code == TASKRING_OK && results[i].id == 0) {
        results[i].code = static_cast<taskring_code>(s.code());
      }
    }
    return Record(s);
  });
}

uint32_t taskring_producer_retry_after_ms(const taskring_producer* p) {
  return p == nullptr ? 0 : p->impl->RetryAfterMs();
}

uint32_t taskring_producer_max_payload(const taskring_producer* p) {
  return p == nullptr ? 0 : p->impl->max_payload();
}

taskring_code taskring_producer_status(const taskring_producer* p, uint64_t id,
                                       taskring_job_status* out) {
  return Guard([&] {
    if (out != nullptr) taskring::capi::ZeroStatus(out);
    if (p == nullptr) return InvalidArgument("taskring_producer_status: producer is NULL");
    if (out == nullptr) return InvalidArgument("taskring_producer_status: out is NULL");
    taskring::JobStatus st;
    taskring::Status s = p->impl->GetStatus(id, &st);
    if (!s.ok()) return Record(s);
    return taskring::capi::FillStatus(st, out);
  });
}

}  // extern "C"
