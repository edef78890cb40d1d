// taskring_worker and taskring_job: taskring::Worker and taskring::Job behind the C ABI.
#include <string>
#include <vector>

#include "capi/capi_internal.h"

using taskring::capi::Guard;
using taskring::capi::InvalidArgument;
using taskring::capi::Record;

namespace {

// The checks every call on a held job makes: worker and job not NULL.
taskring_code CheckHeld(const taskring_worker* w, const taskring_job* job, const char* fn) {
  if (w == nullptr) return InvalidArgument((std::string(fn) + ": worker is NULL").c_str());
  if (job == nullptr) return InvalidArgument((std::string(fn) + ": job is NULL").c_str());
  return TASKRING_OK;
}

}  // namespace

extern "C" {

taskring_code taskring_worker_open(const char* queue, const taskring_worker_options* opts,
                                   taskring_worker** out) {
  return Guard([&] {
    if (out != nullptr) *out = nullptr;
    if (queue == nullptr) return InvalidArgument("taskring_worker_open: queue is NULL");
    if (out == nullptr) return InvalidArgument("taskring_worker_open: out is NULL");
    taskring_worker_options o;
    taskring_worker_options_init(&o);
    taskring_code c = taskring::capi::CopyOptions(opts, sizeof(taskring_worker_options),
                                                  "taskring_worker_options", &o);
    if (c != TASKRING_OK) return c;
    taskring::WorkerOptions wo;
    wo.queue = queue;
    wo.attach_timeout_ms = o.attach_timeout_ms;
    wo.wait_for_daemon_ms = o.wait_for_daemon_ms;
    wo.spin_iterations = o.spin_iterations;
    if (o.types_count > 0 && o.types == nullptr) {
      return InvalidArgument("taskring_worker_options.types is NULL but types_count is not 0");
    }
    for (size_t i = 0; i < o.types_count; ++i) {
      if (o.types[i] == nullptr) {
        return Record(taskring::Status::InvalidArgument("taskring_worker_options.types[" +
                                                        std::to_string(i) + "] is NULL"));
      }
      wo.types.emplace_back(o.types[i]);
    }
    auto handle = std::make_unique<taskring_worker>();
    taskring::Status s = taskring::Worker::Open(wo, &handle->impl);
    if (s.ok()) *out = handle.release();
    return Record(s);
  });
}

void taskring_worker_close(taskring_worker* w) { delete w; }

taskring_code taskring_worker_take(taskring_worker* w, uint32_t timeout_ms, taskring_job** out) {
  return Guard([&] {
    if (out != nullptr) *out = nullptr;
    if (w == nullptr) return InvalidArgument("taskring_worker_take: worker is NULL");
    if (out == nullptr) return InvalidArgument("taskring_worker_take: out is NULL");
    auto job = std::make_unique<taskring_job>();
    taskring::Status s = w->impl->Take(&job->job, timeout_ms);
    if (s.ok()) *out = job.release();
    return Record(s);
  });
}

taskring_code taskring_worker_take_many(taskring_worker* w, taskring_job** jobs, size_t capacity,
                                        size_t* taken, uint32_t timeout_ms) {
  return Guard([&] {
    if (taken != nullptr) *taken = 0;
    if (w == nullptr) return InvalidArgument("taskring_worker_take_many: worker is NULL");
    if (taken == nullptr) return InvalidArgument("taskring_worker_take_many: taken is NULL");
    if (jobs == nullptr) return InvalidArgument("taskring_worker_take_many: jobs is NULL");
    if (capacity == 0) return InvalidArgument("taskring_worker_take_many: capacity is 0");
    for (size_t i = 0; i < capacity; ++i) jobs[i] = nullptr;
    // Allocate the handles first: once jobs are taken nothing may fail before they are handed
    // out (a job lost here would only come back when its lease ran out).
    std::vector<std::unique_ptr<taskring_job>> handles(capacity);
    for (auto& h : handles) h = std::make_unique<taskring_job>();
    std::vector<taskring::Job> batch(capacity);
    size_t n = 0;
    taskring::Status s = w->impl->TakeMany(batch, &n, timeout_ms);
    for (size_t i = 0; i < n; ++i) {
      handles[i]->job = std::move(batch[i]);
      jobs[i] = handles[i].release();
    }
    *taken = n;
    return Record(s);
  });
}

taskring_code taskring_worker_complete(taskring_worker* w, const taskring_job* job) {
  return Guard([&] {
    taskring_code c = CheckHeld(w, job, "taskring_worker_complete");
    if (c != TASKRING_OK) return c;
    return Record(w->impl->Complete(job->job));
  });
}

taskring_code taskring_worker_complete_with_result(taskring_worker* w, const taskring_job* job,
                                                   const void* data, size_t len) {
  return Guard([&] {
    taskring_code c = CheckHeld(w, job, "taskring_worker_complete_with_result");
    if (c != TASKRING_OK) return c;
    if (!taskring::capi::ValidBytes(data, len)) {
      return InvalidArgument("taskring_worker_complete_with_result: data is NULL but len is not 0");
    }
    return Record(w->impl->Complete(job->job, taskring::capi::Bytes(data, len)));
  });
}

taskring_code taskring_worker_complete_many(taskring_worker* w, taskring_job* const* jobs,
                                            size_t count, taskring_code* outcomes) {
  return Guard([&] {
    if (w == nullptr) return InvalidArgument("taskring_worker_complete_many: worker is NULL");
    if (count == 0) return taskring::capi::Ok();
    if (jobs == nullptr) return InvalidArgument("taskring_worker_complete_many: jobs is NULL");
    std::vector<taskring::Job> batch;
    batch.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (jobs[i] == nullptr) {
        return Record(taskring::Status::InvalidArgument("taskring_worker_complete_many: jobs[" +
                                                        std::to_string(i) + "] is NULL"));
      }
      batch.push_back(jobs[i]->job);
    }
    std::vector<taskring::Status> each(count);
    taskring::Status s = w->impl->CompleteMany(batch, each);
    if (outcomes != nullptr) {
      for (size_t i = 0; i < count; ++i) outcomes[i] = static_cast<taskring_code>(each[i].code());
    }
    return Record(s);
  });
}

taskring_code taskring_worker_fail(taskring_worker* w, const taskring_job* job, const char* error) {
  return Guard([&] {
    taskring_code c = CheckHeld(w, job, "taskring_worker_fail");
    if (c != TASKRING_OK) return c;
    return Record(error == nullptr ? w->impl->Fail(job->job) : w->impl->Fail(job->job, error));
  });
}

taskring_code taskring_worker_progress(taskring_worker* w, const taskring_job* job,
                                       uint32_t percent, const char* message) {
  return Guard([&] {
    taskring_code c = CheckHeld(w, job, "taskring_worker_progress");
    if (c != TASKRING_OK) return c;
    return Record(w->impl->ReportProgress(job->job, percent,
                                          message == nullptr ? std::string_view() : message));
  });
}

taskring_code taskring_worker_touch(taskring_worker* w, const taskring_job* job) {
  return Guard([&] {
    taskring_code c = CheckHeld(w, job, "taskring_worker_touch");
    if (c != TASKRING_OK) return c;
    return Record(w->impl->Touch(job->job));
  });
}

taskring_code taskring_worker_release(taskring_worker* w, const taskring_job* job) {
  return Guard([&] {
    taskring_code c = CheckHeld(w, job, "taskring_worker_release");
    if (c != TASKRING_OK) return c;
    return Record(w->impl->Release(job->job));
  });
}

uint32_t taskring_worker_lease_ms(const taskring_worker* w) {
  return w == nullptr ? 0 : w->impl->lease_ms();
}

void taskring_job_free(taskring_job* job) { delete job; }

uint64_t taskring_job_id(const taskring_job* job) { return job ? job->job.id() : 0; }
uint32_t taskring_job_attempt(const taskring_job* job) { return job ? job->job.attempt() : 0; }
uint32_t taskring_job_max_attempts(const taskring_job* job) {
  return job ? job->job.max_attempts() : 0;
}
int32_t taskring_job_priority(const taskring_job* job) { return job ? job->job.priority() : 0; }
uint32_t taskring_job_timeout_ms(const taskring_job* job) {
  return job ? job->job.timeout_ms() : 0;
}
uint64_t taskring_job_enqueued_unix_ns(const taskring_job* job) {
  return job ? job->job.enqueued_unix_ns() : 0;
}
int taskring_job_cancel_requested(const taskring_job* job) {
  return job && job->job.cancel_requested() ? 1 : 0;
}
const char* taskring_job_type(const taskring_job* job) {
  return job ? job->job.type().c_str() : "";
}

taskring_code taskring_job_payload(const taskring_job* job, const void** data, size_t* len) {
  if (data != nullptr) *data = nullptr;
  if (len != nullptr) *len = 0;
  if (job == nullptr) return InvalidArgument("taskring_job_payload: job is NULL");
  if (data == nullptr || len == nullptr) {
    return InvalidArgument("taskring_job_payload: data or len is NULL");
  }
  *data = job->job.payload().data();
  *len = job->job.payload().size();
  return taskring::capi::Ok();
}

taskring_code taskring_job_token(const taskring_job* job, taskring_token* out) {
  if (job == nullptr) return InvalidArgument("taskring_job_token: job is NULL");
  if (out == nullptr) return InvalidArgument("taskring_job_token: out is NULL");
  taskring::capi::CopyToken(job->job.token(), out);
  return taskring::capi::Ok();
}

size_t taskring_job_headers_count(const taskring_job* job) {
  return job ? job->job.headers().size() : 0;
}

taskring_code taskring_job_header(const taskring_job* job, size_t i, const char** name,
                                  const char** value) {
  if (name != nullptr) *name = nullptr;
  if (value != nullptr) *value = nullptr;
  if (job == nullptr) return InvalidArgument("taskring_job_header: job is NULL");
  if (name == nullptr || value == nullptr) {
    return InvalidArgument("taskring_job_header: name or value is NULL");
  }
  const auto& headers = job->job.headers();
  if (i >= headers.size()) {
    return Guard([&] {
      return Record(taskring::Status::NotFound("taskring_job_header: index " + std::to_string(i) +
                                               " past the job's " + std::to_string(headers.size()) +
                                               " headers"));
    });
  }
  *name = headers[i].first.c_str();
  *value = headers[i].second.c_str();
  return taskring::capi::Ok();
}

const char* taskring_job_header_value(const taskring_job* job, const char* name) {
  if (job == nullptr || name == nullptr) return nullptr;
  for (const auto& [k, v] : job->job.headers()) {
    if (k == name) return v.c_str();
  }
  return nullptr;
}

}  // extern "C"
