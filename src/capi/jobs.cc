// taskring_jobs: taskring::JobClient behind the C ABI, and the job status struct.
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/capi_internal.h"

using taskring::capi::Guard;
using taskring::capi::InvalidArgument;
using taskring::capi::Record;

namespace taskring::capi {
namespace {

static_assert(TASKRING_JOB_UNKNOWN == static_cast<int>(JobState::kUnknown));
static_assert(TASKRING_JOB_PENDING == static_cast<int>(JobState::kPending));
static_assert(TASKRING_JOB_QUEUED == static_cast<int>(JobState::kQueued));
static_assert(TASKRING_JOB_RUNNING == static_cast<int>(JobState::kRunning));
static_assert(TASKRING_JOB_DELAYED == static_cast<int>(JobState::kDelayed));
static_assert(TASKRING_JOB_COMPLETED == static_cast<int>(JobState::kCompleted));
static_assert(TASKRING_JOB_RETRYING == static_cast<int>(JobState::kRetrying));
static_assert(TASKRING_JOB_DEAD == static_cast<int>(JobState::kDead));
static_assert(TASKRING_JOB_EXPIRED == static_cast<int>(JobState::kExpired));
static_assert(TASKRING_JOB_CANCELLED == static_cast<int>(JobState::kCancelled));
static_assert(TASKRING_CANCEL_DONE == static_cast<int>(CancelOutcome::kCancelled));
static_assert(TASKRING_CANCEL_REQUESTED == static_cast<int>(CancelOutcome::kRequested));
static_assert(TASKRING_CANCEL_ALREADY_FINISHED ==
              static_cast<int>(CancelOutcome::kAlreadyFinished));

}  // namespace

char* Dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

bool DupHeaders(const std::vector<std::pair<std::string, std::string>>& in, taskring_header** out,
                size_t* count) {
  *out = nullptr;
  *count = 0;
  if (in.empty()) return true;
  *out = static_cast<taskring_header*>(std::calloc(in.size(), sizeof(taskring_header)));
  if (*out == nullptr) return false;
  *count = in.size();
  for (size_t i = 0; i < in.size(); ++i) {
    (*out)[i].name = Dup(in[i].first);
    (*out)[i].value = Dup(in[i].second);
    if ((*out)[i].name == nullptr || (*out)[i].value == nullptr) return false;
  }
  return true;
}

void FreeHeaders(taskring_header** headers, size_t count) {
  if (*headers == nullptr) return;
  for (size_t i = 0; i < count; ++i) {
    std::free(const_cast<char*>((*headers)[i].name));
    std::free(const_cast<char*>((*headers)[i].value));
  }
  std::free(*headers);
  *headers = nullptr;
}

void CopyToken(const JobToken& t, taskring_token* out) noexcept {
  std::memset(out->text, 0, sizeof(out->text));
  if (!t.valid()) return;
  try {
    std::string s = t.ToString();
    std::memcpy(out->text, s.data(), s.size() < 40 ? s.size() : 40);
  } catch (...) {
    // out of memory: left "", as for a job whose token is not kept
  }
}

taskring_code FillStatus(const JobStatus& in, taskring_job_status* out) noexcept {
  ZeroStatus(out);
  out->id = in.id;
  out->state = static_cast<taskring_job_state>(in.state);
  out->attempt = in.attempt;
  out->max_attempts = in.max_attempts;
  out->priority = in.priority;
  out->updated_unix_ns = in.updated_unix_ns;
  out->enqueued_unix_ns = in.enqueued_unix_ns;
  out->started_unix_ns = in.started_unix_ns;
  out->finished_unix_ns = in.finished_unix_ns;
  out->has_progress = in.has_progress ? 1 : 0;
  out->progress_percent = in.progress_percent;
  out->cancel_requested = in.cancel_requested ? 1 : 0;
  out->result_bytes = in.result_bytes;
  out->progress_message = Dup(in.progress_message);
  out->token = Dup(in.token);
  out->type = Dup(in.type);
  out->error = Dup(in.error);
  bool ok = out->progress_message && out->token && out->type && out->error;
  if (ok) ok = DupHeaders(in.headers, &out->headers, &out->headers_count);
  if (!ok) {
    taskring_job_status_free(out);
    return OnException("out of memory copying a job status", true);
  }
  return Ok();
}

}  // namespace taskring::capi

namespace {

// By id or by token: the two overloads of each JobClient call.
struct JobRef {
  uint64_t id = 0;
  const char* token = nullptr;
};

taskring_code DoStatus(const taskring_jobs* j, const JobRef& ref, bool by_token,
                       taskring_job_status* out) {
  const char* fn = by_token ? "taskring_jobs_status_by_token" : "taskring_jobs_status";
  if (out != nullptr) taskring::capi::ZeroStatus(out);
  if (j == nullptr) return InvalidArgument((std::string(fn) + ": jobs is NULL").c_str());
  if (by_token && ref.token == nullptr) {
    return InvalidArgument((std::string(fn) + ": token is NULL").c_str());
  }
  if (out == nullptr) return InvalidArgument((std::string(fn) + ": out is NULL").c_str());
  taskring::JobStatus st;
  taskring::Status s =
      by_token ? j->impl->GetStatus(ref.token, &st) : j->impl->GetStatus(ref.id, &st);
  if (!s.ok()) return Record(s);
  return taskring::capi::FillStatus(st, out);
}

taskring_code DoResult(const taskring_jobs* j, const JobRef& ref, bool by_token, void** data,
                       size_t* len) {
  const char* fn = by_token ? "taskring_jobs_result_by_token" : "taskring_jobs_result";
  if (data != nullptr) *data = nullptr;
  if (len != nullptr) *len = 0;
  if (j == nullptr) return InvalidArgument((std::string(fn) + ": jobs is NULL").c_str());
  if (by_token && ref.token == nullptr) {
    return InvalidArgument((std::string(fn) + ": token is NULL").c_str());
  }
  if (data == nullptr || len == nullptr) {
    return InvalidArgument((std::string(fn) + ": data or len is NULL").c_str());
  }
  std::string bytes;
  taskring::Status s =
      by_token ? j->impl->GetResult(ref.token, &bytes) : j->impl->GetResult(ref.id, &bytes);
  if (!s.ok()) return Record(s);
  void* p = std::malloc(bytes.empty() ? 1 : bytes.size());
  if (p == nullptr) return taskring::capi::OnException("out of memory copying a result", true);
  // Bytes, not a string: no NUL is added.
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  *data = p;
  *len = bytes.size();
  return taskring::capi::Ok();
}

taskring_code DoWait(const taskring_jobs* j, const JobRef& ref, bool by_token, uint32_t timeout_ms,
                     taskring_job_status* out) {
  const char* fn = by_token ? "taskring_jobs_wait_by_token" : "taskring_jobs_wait";
  if (out != nullptr) taskring::capi::ZeroStatus(out);
  if (j == nullptr) return InvalidArgument((std::string(fn) + ": jobs is NULL").c_str());
  if (by_token && ref.token == nullptr) {
    return InvalidArgument((std::string(fn) + ": token is NULL").c_str());
  }
  taskring::JobStatus st;
  taskring::Status s =
      by_token ? j->impl->Wait(ref.token, timeout_ms, &st) : j->impl->Wait(ref.id, timeout_ms, &st);
  if (out != nullptr && (s.ok() || s.IsTimedOut())) {
    taskring_code c = taskring::capi::FillStatus(st, out);
    if (c != TASKRING_OK) return c;
  }
  return Record(s);
}

taskring_code DoCancel(taskring_jobs* j, const JobRef& ref, bool by_token,
                       taskring_cancel_outcome* out) {
  const char* fn = by_token ? "taskring_jobs_cancel_by_token" : "taskring_jobs_cancel";
  if (out != nullptr) *out = TASKRING_CANCEL_NONE;
  if (j == nullptr) return InvalidArgument((std::string(fn) + ": jobs is NULL").c_str());
  if (by_token && ref.token == nullptr) {
    return InvalidArgument((std::string(fn) + ": token is NULL").c_str());
  }
  if (out == nullptr) return InvalidArgument((std::string(fn) + ": out is NULL").c_str());
  taskring::CancelOutcome co{};
  taskring::Status s = by_token ? j->impl->Cancel(ref.token, &co) : j->impl->Cancel(ref.id, &co);
  if (s.ok()) *out = static_cast<taskring_cancel_outcome>(co);
  return Record(s);
}

}  // namespace

extern "C" {

const char* taskring_job_state_name(taskring_job_state state) {
  return taskring::JobStateName(static_cast<taskring::JobState>(state));
}

int taskring_job_state_is_terminal(taskring_job_state state) {
  return taskring::IsTerminal(static_cast<taskring::JobState>(state)) ? 1 : 0;
}

const char* taskring_cancel_outcome_name(taskring_cancel_outcome outcome) {
  if (outcome == TASKRING_CANCEL_NONE) return "none";
  return taskring::CancelOutcomeName(static_cast<taskring::CancelOutcome>(outcome));
}

void taskring_job_status_free(taskring_job_status* st) {
  if (st == nullptr) return;
  std::free(st->progress_message);
  std::free(st->token);
  std::free(st->type);
  std::free(st->error);
  taskring::capi::FreeHeaders(&st->headers, st->headers_count);
  taskring::capi::ZeroStatus(st);
}

taskring_code taskring_jobs_open(const char* queue, const taskring_jobs_options* opts,
                                 taskring_jobs** out) {
  return Guard([&] {
    if (out != nullptr) *out = nullptr;
    if (queue == nullptr) return InvalidArgument("taskring_jobs_open: queue is NULL");
    if (out == nullptr) return InvalidArgument("taskring_jobs_open: out is NULL");
    taskring_jobs_options o;
    taskring_jobs_options_init(&o);
    taskring_code c = taskring::capi::CopyOptions(opts, sizeof(taskring_jobs_options),
                                                  "taskring_jobs_options", &o);
    if (c != TASKRING_OK) return c;
    taskring::JobClientOptions jo;
    jo.queue = queue;
    jo.attach_timeout_ms = o.attach_timeout_ms;
    jo.wait_for_daemon_ms = o.wait_for_daemon_ms;
    jo.cancel_timeout_ms = o.cancel_timeout_ms;
    auto handle = std::make_unique<taskring_jobs>();
    taskring::Status s = taskring::JobClient::Open(jo, &handle->impl);
    if (s.ok()) *out = handle.release();
    return Record(s);
  });
}

void taskring_jobs_close(taskring_jobs* j) { delete j; }

taskring_code taskring_jobs_status(const taskring_jobs* j, uint64_t id, taskring_job_status* out) {
  return Guard([&] { return DoStatus(j, JobRef{id, nullptr}, false, out); });
}
taskring_code taskring_jobs_status_by_token(const taskring_jobs* j, const char* token,
                                            taskring_job_status* out) {
  return Guard([&] { return DoStatus(j, JobRef{0, token}, true, out); });
}
taskring_code taskring_jobs_result(const taskring_jobs* j, uint64_t id, void** data, size_t* len) {
  return Guard([&] { return DoResult(j, JobRef{id, nullptr}, false, data, len); });
}
taskring_code taskring_jobs_result_by_token(const taskring_jobs* j, const char* token, void** data,
                                            size_t* len) {
  return Guard([&] { return DoResult(j, JobRef{0, token}, true, data, len); });
}
taskring_code taskring_jobs_wait(const taskring_jobs* j, uint64_t id, uint32_t timeout_ms,
                                 taskring_job_status* out) {
  return Guard([&] { return DoWait(j, JobRef{id, nullptr}, false, timeout_ms, out); });
}
taskring_code taskring_jobs_wait_by_token(const taskring_jobs* j, const char* token,
                                          uint32_t timeout_ms, taskring_job_status* out) {
  return Guard([&] { return DoWait(j, JobRef{0, token}, true, timeout_ms, out); });
}
taskring_code taskring_jobs_cancel(taskring_jobs* j, uint64_t id, taskring_cancel_outcome* out) {
  return Guard([&] { return DoCancel(j, JobRef{id, nullptr}, false, out); });
}
taskring_code taskring_jobs_cancel_by_token(taskring_jobs* j, const char* token,
                                            taskring_cancel_outcome* out) {
  return Guard([&] { return DoCancel(j, JobRef{0, token}, true, out); });
}

}  // extern "C"
