#include "http/responses.h"

#include <algorithm>

namespace taskring::http {

Response JsonResponse(bhttp::status code, const Json& body) {
  Response res{code, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = Dump(body);
  return res;
}

Response ErrorResponse(bhttp::status code, const std::string& message, const std::string& reason) {
  Json extra = Json::object();
  if (!reason.empty()) extra["reason"] = reason;
  return JsonResponse(code, ErrorJson(message, std::move(extra)));
}

Response StatusResponse(const Status& s) {
  const std::string msg(s.message().empty() ? s.ToString() : std::string(s.message()));
  switch (s.code()) {
    case Status::Code::kOk: return ErrorResponse(bhttp::status::internal_server_error, "no error");
    case Status::Code::kNotFound:  // what the queue registry answers for an unknown queue
      return ErrorResponse(bhttp::status::not_found, msg, "no_queue");
    case Status::Code::kInvalidArgument: return ErrorResponse(bhttp::status::bad_request, msg);
    case Status::Code::kBusy: return BusyResponse("queue is full", "queue_full", 1000);
    case Status::Code::kClosed:
      return ErrorResponse(bhttp::status::service_unavailable, msg, "daemon_gone");
    case Status::Code::kNotReady:
      return ErrorResponse(bhttp::status::service_unavailable, msg, "daemon_starting");
    case Status::Code::kIOError:
      return ErrorResponse(bhttp::status::service_unavailable, msg, "daemon_refusing");
    case Status::Code::kResourceExhausted:
      return ErrorResponse(bhttp::status::service_unavailable, msg, "no_client_entry");
    case Status::Code::kTimedOut:
      return ErrorResponse(bhttp::status::service_unavailable, msg, "timed_out");
    default: return ErrorResponse(bhttp::status::internal_server_error, s.ToString(), "internal");
  }
}

Response BusyResponse(const std::string& message, const std::string& reason,
                      uint32_t retry_after_ms) {
  const uint32_t secs = std::max<uint32_t>(1, (retry_after_ms + 999) / 1000);
  Response res = JsonResponse(bhttp::status::service_unavailable,
                              ErrorJson(message, {{"reason", reason}, {"retry_after_s", secs}}));
  res.set(bhttp::field::retry_after, std::to_string(secs));
  return res;
}

}  // namespace taskring::http
