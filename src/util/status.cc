#include "taskring/status.h"

namespace taskring {
namespace {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kBusy: return "Busy";
    case Status::Code::kTimedOut: return "TimedOut";
    case Status::Code::kClosed: return "Closed";
    case Status::Code::kNotFound: return "NotFound";
    case Status::Code::kInvalidArgument: return "InvalidArgument";
    case Status::Code::kCorruption: return "Corruption";
    case Status::Code::kIOError: return "IOError";
    case Status::Code::kIncompatible: return "Incompatible";
    case Status::Code::kStaleLease: return "StaleLease";
    case Status::Code::kNotReady: return "NotReady";
    case Status::Code::kResourceExhausted: return "ResourceExhausted";
  }
  return "Unknown";
}

}  // namespace

std::string Status::ToString() const {
  std::string out = CodeName(code_);
  if (msg_ && !msg_->empty()) {
    out += ": ";
    out += *msg_;
  }
  return out;
}

}  // namespace taskring
