// Status: the result of every fallible taskring call. No exception crosses the API.
//
// OK and Busy carry no message and never allocate, so the admission fast path (accept or BUSY)
// costs no heap traffic. Other codes carry a one-line reason for people and logs.
// A Status is a plain value: copyable, movable, safe to pass between threads.
//
// The numeric values of Code are frozen (the C ABI exposes them): new codes go at the end.
// "Retry later" codes (Busy, TimedOut, NotReady) are kept apart from failures.
#ifndef TASKRING_STATUS_H_
#define TASKRING_STATUS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "taskring/export.h"

namespace taskring {

class TASKRING_EXPORT Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kBusy,               // queue full: retry later (not a failure)
    kTimedOut,           // nothing arrived / completed within the wait (not a failure)
    kClosed,             // the queue or the daemon is shutting down / gone
    kNotFound,           // no such queue, job or file
    kInvalidArgument,    // the caller's input is wrong (e.g. payload too large)
    kCorruption,         // shared memory or WAL content failed validation
    kIOError,            // the OS refused (open, write, fsync, mmap ...)
    kIncompatible,       // segment or WAL written by an incompatible layout version
    kStaleLease,         // complete/fail for a lease that expired and was handed out again
    kNotReady,           // the daemon is starting (recovering its WAL): retry shortly
    kResourceExhausted,  // a fixed table is full (e.g. every client entry is taken)
  };

  Status() noexcept = default;  // OK

  static Status OK() noexcept { return Status(); }
  static Status Busy() noexcept { return Status(Code::kBusy); }
  static Status TimedOut() noexcept { return Status(Code::kTimedOut); }
  static Status Closed(std::string_view msg) { return Status(Code::kClosed, msg); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status Incompatible(std::string_view msg) { return Status(Code::kIncompatible, msg); }
  static Status StaleLease(std::string_view msg) { return Status(Code::kStaleLease, msg); }
  static Status NotReady(std::string_view msg) { return Status(Code::kNotReady, msg); }
  static Status ResourceExhausted(std::string_view msg) {
    return Status(Code::kResourceExhausted, msg);
  }

  [[nodiscard]] bool ok() const noexcept { return code_ == Code::kOk; }
  [[nodiscard]] bool IsBusy() const noexcept { return code_ == Code::kBusy; }
  [[nodiscard]] bool IsTimedOut() const noexcept { return code_ == Code::kTimedOut; }
  [[nodiscard]] bool IsClosed() const noexcept { return code_ == Code::kClosed; }
  [[nodiscard]] bool IsNotFound() const noexcept { return code_ == Code::kNotFound; }
  [[nodiscard]] bool IsInvalidArgument() const noexcept { return code_ == Code::kInvalidArgument; }
  [[nodiscard]] bool IsCorruption() const noexcept { return code_ == Code::kCorruption; }
  [[nodiscard]] bool IsIOError() const noexcept { return code_ == Code::kIOError; }
  [[nodiscard]] bool IsIncompatible() const noexcept { return code_ == Code::kIncompatible; }
  [[nodiscard]] bool IsStaleLease() const noexcept { return code_ == Code::kStaleLease; }
  [[nodiscard]] bool IsNotReady() const noexcept { return code_ == Code::kNotReady; }
  [[nodiscard]] bool IsResourceExhausted() const noexcept {
    return code_ == Code::kResourceExhausted;
  }

  [[nodiscard]] Code code() const noexcept { return code_; }
  // The reason without the code name; empty for OK, Busy and TimedOut.
  [[nodiscard]] std::string_view message() const noexcept {
    return msg_ ? std::string_view(*msg_) : std::string_view();
  }
  // "OK", "Busy", or "<Code>: <message>".
  [[nodiscard]] std::string ToString() const;

 private:
  explicit Status(Code code) noexcept : code_(code) {}
  Status(Code code, std::string_view msg)
      : code_(code), msg_(std::make_shared<const std::string>(msg)) {}

  Code code_ = Code::kOk;
  std::shared_ptr<const std::string> msg_;  // shared: copies of an error are cheap
};

}  // namespace taskring

#endif  // TASKRING_STATUS_H_
