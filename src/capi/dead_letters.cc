// taskring_dead_letters: taskring::DeadLetters behind the C ABI.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "capi/capi_internal.h"

using taskring::capi::Guard;
using taskring::capi::InvalidArgument;
using taskring::capi::Record;

namespace {

void ZeroLetter(taskring_dead_letter* out) { std::memset(out, 0, sizeof(*out)); }

// Copies a letter into library-allocated C memory; on failure frees what it made.
taskring_code FillLetter(taskring::DeadLetter& in, taskring_dead_letter* out) {
  out->job_id = in.job_id;
  out->attempts = in.attempts;
  out->max_attempts = in.max_attempts;
  out->enqueued_unix_ns = in.enqueued_unix_ns;
  out->dead_unix_ns = in.dead_unix_ns;
  out->priority = in.priority;
  out->timeout_ms = in.timeout_ms;
  out->reason = taskring::capi::Dup(in.reason);
  out->type = taskring::capi::Dup(in.type);
  out->idempotency_key = taskring::capi::Dup(in.idempotency_key);
  out->payload = std::malloc(in.payload.empty() ? 1 : in.payload.size());
  bool ok = out->reason && out->type && out->idempotency_key && out->payload;
  if (ok) {
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes, not a string
    if (!in.payload.empty()) std::memcpy(out->payload, in.payload.data(), in.payload.size());
    out->payload_len = in.payload.size();
  }
  if (ok) ok = taskring::capi::DupHeaders(in.headers, &out->headers, &out->headers_count);
  if (!ok) {
    taskring_dead_letter_free(out);
    return taskring::capi::OnException("out of memory copying a dead letter", true);
  }
  return taskring::capi::Ok();
}

}  // namespace

extern "C" {

void taskring_dead_letters_options_init(taskring_dead_letters_options* opts) {
  if (opts == nullptr) return;
  *opts = taskring_dead_letters_options{};
  opts->struct_size = sizeof(*opts);
}

void taskring_dead_letter_free(taskring_dead_letter* letter) {
  if (letter == nullptr) return;
  std::free(letter->reason);
  std::free(letter->type);
  std::free(letter->idempotency_key);
  std::free(letter->payload);
  taskring::capi::FreeHeaders(&letter->headers, letter->headers_count);
  ZeroLetter(letter);
}

taskring_code taskring_dead_letters_open(const char* queue,
                                         const taskring_dead_letters_options* opts,
                                         taskring_dead_letters** out) {
  return Guard([&] {
    if (out != nullptr) *out = nullptr;
    if (out == nullptr) return InvalidArgument("taskring_dead_letters_open: out is NULL");
    taskring_dead_letters_options o;
    taskring_dead_letters_options_init(&o);
    taskring_code c = taskring::capi::CopyOptions(opts, sizeof(taskring_dead_letters_options),
                                                  "taskring_dead_letters_options", &o);
    if (c != TASKRING_OK) return c;
    if (queue == nullptr && (o.dir == nullptr || o.dir[0] == '\0')) {
      return InvalidArgument("taskring_dead_letters_open: queue is NULL and no dir is set");
    }
    taskring::DeadLettersOptions dopts;
    if (queue != nullptr) dopts.queue = queue;
    if (o.dir != nullptr) dopts.dir = o.dir;
    dopts.wait_for_daemon_ms = o.wait_for_daemon_ms;
    auto handle = std::make_unique<taskring_dead_letters>();
    taskring::Status s = taskring::DeadLetters::Open(dopts, &handle->impl);
    if (s.ok()) *out = handle.release();
    return Record(s);
  });
}

void taskring_dead_letters_close(taskring_dead_letters* d) { delete d; }

taskring_code taskring_dead_letters_list(const taskring_dead_letters* d, uint64_t** ids,
                                         size_t* count) {
  return Guard([&] {
    if (ids != nullptr) *ids = nullptr;
    if (count != nullptr) *count = 0;
    if (d == nullptr) return InvalidArgument("taskring_dead_letters_list: dead_letters is NULL");
    if (ids == nullptr || count == nullptr) {
      return InvalidArgument("taskring_dead_letters_list: ids or count is NULL");
    }
    std::vector<uint64_t> list;
    taskring::Status s = d->impl->List(&list);
    if (!s.ok()) return Record(s);
    if (list.empty()) return taskring::capi::Ok();
    auto* p = static_cast<uint64_t*>(std::malloc(list.size() * sizeof(uint64_t)));
    if (p == nullptr) return taskring::capi::OnException("out of memory listing", true);
    std::memcpy(p, list.data(), list.size() * sizeof(uint64_t));
    *ids = p;
    *count = list.size();
    return taskring::capi::Ok();
  });
}

taskring_code taskring_dead_letters_read(const taskring_dead_letters* d, uint64_t job_id,
                                         taskring_dead_letter* out) {
  return Guard([&] {
    if (out != nullptr) ZeroLetter(out);
    if (d == nullptr) return InvalidArgument("taskring_dead_letters_read: dead_letters is NULL");
    if (out == nullptr) return InvalidArgument("taskring_dead_letters_read: out is NULL");
    taskring::DeadLetter letter;
    taskring::Status s = d->impl->Read(job_id, &letter);
    if (!s.ok()) return Record(s);
    return FillLetter(letter, out);
  });
}

taskring_code taskring_dead_letters_requeue(taskring_dead_letters* d, uint64_t job_id,
                                            uint64_t* new_id) {
  return Guard([&] {
    if (new_id != nullptr) *new_id = 0;
    if (d == nullptr) return InvalidArgument("taskring_dead_letters_requeue: dead_letters is NULL");
    if (new_id == nullptr) return InvalidArgument("taskring_dead_letters_requeue: new_id is NULL");
    return Record(d->impl->Requeue(job_id, new_id));
  });
}

taskring_code taskring_dead_letters_purge(taskring_dead_letters* d, uint64_t job_id) {
  return Guard([&] {
    if (d == nullptr) return InvalidArgument("taskring_dead_letters_purge: dead_letters is NULL");
    return Record(d->impl->Purge(job_id));
  });
}

taskring_code taskring_dead_letters_purge_all(taskring_dead_letters* d, uint64_t* purged) {
  return Guard([&] {
    if (purged != nullptr) *purged = 0;
    if (d == nullptr) {
      return InvalidArgument("taskring_dead_letters_purge_all: dead_letters is NULL");
    }
    if (purged == nullptr)
      return InvalidArgument("taskring_dead_letters_purge_all: purged is NULL");
    return Record(d->impl->PurgeAll(purged));
  });
}

uint32_t taskring_dead_letters_retry_after_ms(const taskring_dead_letters* d) {
  return d == nullptr ? 0 : d->impl->RetryAfterMs();
}

}  // extern "C"
