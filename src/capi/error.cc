// The C ABI's error model: codes, the thread-local last error, version and free.
#include <cstdlib>
#include <string>

#include "capi/capi_internal.h"

namespace taskring::capi {
namespace {

thread_local std::string last_error;

// The C enum is the C++ one, number for number (the C ABI freezes them).
static_assert(TASKRING_OK == static_cast<int>(Status::Code::kOk));
static_assert(TASKRING_BUSY == static_cast<int>(Status::Code::kBusy));
static_assert(TASKRING_TIMED_OUT == static_cast<int>(Status::Code::kTimedOut));
static_assert(TASKRING_CLOSED == static_cast<int>(Status::Code::kClosed));
static_assert(TASKRING_NOT_FOUND == static_cast<int>(Status::Code::kNotFound));
static_assert(TASKRING_INVALID_ARGUMENT == static_cast<int>(Status::Code::kInvalidArgument));
static_assert(TASKRING_CORRUPTION == static_cast<int>(Status::Code::kCorruption));
static_assert(TASKRING_IO_ERROR == static_cast<int>(Status::Code::kIOError));
static_assert(TASKRING_INCOMPATIBLE == static_cast<int>(Status::Code::kIncompatible));
static_assert(TASKRING_STALE_LEASE == static_cast<int>(Status::Code::kStaleLease));
static_assert(TASKRING_NOT_READY == static_cast<int>(Status::Code::kNotReady));
static_assert(TASKRING_RESOURCE_EXHAUSTED == static_cast<int>(Status::Code::kResourceExhausted));

// The header's version macros are the project's (CMake passes PROJECT_VERSION_*).
static_assert(TASKRING_VERSION_MAJOR == TASKRING_PROJECT_VERSION_MAJOR);
static_assert(TASKRING_VERSION_MINOR == TASKRING_PROJECT_VERSION_MINOR);
static_assert(TASKRING_VERSION_PATCH == TASKRING_PROJECT_VERSION_PATCH);

#define TASKRING_STR2(x) #x
#define TASKRING_STR(x) TASKRING_STR2(x)
constexpr const char kVersion[] = TASKRING_STR(TASKRING_VERSION_MAJOR) "." TASKRING_STR(
    TASKRING_VERSION_MINOR) "." TASKRING_STR(TASKRING_VERSION_PATCH);

}  // namespace

taskring_code Record(const Status& s) noexcept {
  if (s.ok()) return Ok();
  try {
    last_error = s.ToString();
  } catch (...) {
    last_error.clear();  // out of memory: the code still says what happened
  }
  return static_cast<taskring_code>(s.code());
}

taskring_code Ok() noexcept {
  last_error.clear();
  return TASKRING_OK;
}

taskring_code InvalidArgument(const char* msg) noexcept {
  try {
    last_error = std::string("InvalidArgument: ") + msg;
  } catch (...) {
    last_error.clear();
  }
  return TASKRING_INVALID_ARGUMENT;
}

taskring_code StructTooSmall(const char* name, size_t got, size_t min_size) {
  return Record(Status::InvalidArgument(
      std::string(name) + ".struct_size is " + std::to_string(got) + ", less than " +
      std::to_string(min_size) + ": fill it with " + name + "_init() first"));
}

taskring_code OnException(const char* what, bool out_of_memory) noexcept {
  try {
    last_error = std::string(out_of_memory ? "ResourceExhausted: " : "Internal: ") + what;
  } catch (...) {
    last_error.clear();
  }
  return out_of_memory ? TASKRING_RESOURCE_EXHAUSTED : TASKRING_INTERNAL;
}

}  // namespace taskring::capi

extern "C" {

const char* taskring_version(void) { return taskring::capi::kVersion; }

const char* taskring_code_name(taskring_code code) {
  switch (code) {
    case TASKRING_OK: return "OK";
    case TASKRING_BUSY: return "Busy";
    case TASKRING_TIMED_OUT: return "TimedOut";
    case TASKRING_CLOSED: return "Closed";
    case TASKRING_NOT_FOUND: return "NotFound";
    case TASKRING_INVALID_ARGUMENT: return "InvalidArgument";
    case TASKRING_CORRUPTION: return "Corruption";
    case TASKRING_IO_ERROR: return "IOError";
    case TASKRING_INCOMPATIBLE: return "Incompatible";
    case TASKRING_STALE_LEASE: return "StaleLease";
    case TASKRING_NOT_READY: return "NotReady";
    case TASKRING_RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case TASKRING_INTERNAL: return "Internal";
  }
  return "Unknown";
}

const char* taskring_last_error(void) { return taskring::capi::last_error.c_str(); }

void taskring_free(void* p) { std::free(p); }

}  // extern "C"
