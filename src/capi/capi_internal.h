// Shared by the C ABI's implementation files (src/capi/): the handle structs behind the opaque
// types of include/taskring/taskring.h, the thread-local last error, and the guard that keeps
// exceptions on this side of the C boundary.
#ifndef TASKRING_CAPI_CAPI_INTERNAL_H_
#define TASKRING_CAPI_CAPI_INTERNAL_H_

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskring/dead_letters.h"
#include "taskring/job.h"
#include "taskring/job_client.h"
#include "taskring/producer.h"
#include "taskring/status.h"
#include "taskring/taskring.h"
#include "taskring/worker.h"

struct taskring_producer {
  std::unique_ptr<taskring::Producer> impl;
};
struct taskring_jobs {
  std::unique_ptr<taskring::JobClient> impl;
};
struct taskring_worker {
  std::unique_ptr<taskring::Worker> impl;
};
struct taskring_job {
  taskring::Job job;
};
struct taskring_dead_letters {
  std::unique_ptr<taskring::DeadLetters> impl;
};

namespace taskring::capi {

// Records `s` as this thread's last error ("" for OK) and returns its code.
taskring_code Record(const Status& s) noexcept;
// Shorthands for the checks every entry point makes.
taskring_code InvalidArgument(const char* msg) noexcept;
taskring_code Ok() noexcept;

// Runs fn (returning taskring_code) and turns any exception into a code and a message: none
// may cross into C. bad_alloc is RESOURCE_EXHAUSTED, anything else INTERNAL.
taskring_code OnException(const char* what, bool out_of_memory) noexcept;
template <typename Fn>
taskring_code Guard(Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return OnException("out of memory", true);
  } catch (const std::exception& e) {
    return OnException(e.what(), false);
  } catch (...) {
    return OnException("unknown exception", false);
  }
}

// Copies a caller's options struct of `struct_size` bytes over `defaults`: a caller built
// against an older, shorter struct gets defaults for the fields it does not know; a newer,
// longer one has its extra fields ignored. Fails below the first version's size.
taskring_code StructTooSmall(const char* name, size_t got, size_t min_size);
template <typename T>
taskring_code CopyOptions(const T* in, size_t min_size, const char* name, T* out) {
  if (in == nullptr) return Ok();  // defaults
  if (in->struct_size < min_size) return StructTooSmall(name, in->struct_size, min_size);
  size_t n = in->struct_size < sizeof(T) ? in->struct_size : sizeof(T);
  std::memcpy(static_cast<void*>(out), in, n);
  out->struct_size = sizeof(T);
  return Ok();
}

// Bytes from C: (NULL, 0) is empty; (NULL, n > 0) is an error.
inline bool ValidBytes(const void* data, size_t len) { return data != nullptr || len == 0; }
inline std::string_view Bytes(const void* data, size_t len) {
  return len == 0 ? std::string_view() : std::string_view(static_cast<const char*>(data), len);
}

// Converts the C enqueue options (NULL: defaults) to EnqueueOptions.
taskring_code ToEnqueueOptions(const taskring_enqueue_options* in, EnqueueOptions* out);
// Fills a C status from a JobStatus (strings copied with malloc). On failure *out is left
// zeroed (safe for taskring_job_status_free).
taskring_code FillStatus(const JobStatus& in, taskring_job_status* out) noexcept;
// Clears *out (zero) so a failed call leaves nothing to free.
inline void ZeroStatus(taskring_job_status* out) { std::memset(out, 0, sizeof(*out)); }
void CopyToken(const JobToken& t, taskring_token* out) noexcept;
// A malloc'ed NUL-terminated copy (for the caller to free), or nullptr when out of memory.
char* Dup(const std::string& s);
// Copies key/values into a library-allocated taskring_header array (*out, *count; nothing for
// none). False when out of memory: what was made is in *out for FreeHeaders.
bool DupHeaders(const std::vector<std::pair<std::string, std::string>>& in, taskring_header** out,
                size_t* count);
// Frees what DupHeaders made (a partly made array too); sets *headers to NULL.
void FreeHeaders(taskring_header** headers, size_t count);

}  // namespace taskring::capi

#endif  // TASKRING_CAPI_CAPI_INTERNAL_H_
