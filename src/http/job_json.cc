#include "http/job_json.h"

#include <cstdio>
#include <ctime>

namespace taskring::http {
namespace {

// RFC 3339 in UTC with milliseconds, or null for "never".
Json Time(uint64_t unix_ns) {
  if (unix_ns == 0) return nullptr;
  const time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03uZ",
                static_cast<unsigned>(unix_ns / 1'000'000 % 1000));
  return std::string(buf);
}

}  // namespace

std::string JobPath(const std::string& queue, const std::string& token) {
  return "/queues/" + queue + "/jobs/" + token;
}

std::string ResultPath(const std::string& queue, const std::string& token) {
  return JobPath(queue, token) + "/result";
}

Json JobStatusJson(const std::string& queue, const JobStatus& st) {
  Json j;
  j["id"] = st.id;
  j["state"] = JobStateName(st.state);
  j["attempt"] = st.attempt;
  j["max_attempts"] = st.max_attempts;
  j["priority"] = st.priority;
  j["type"] = st.type;
  Json headers = Json::object();
  for (const auto& [k, v] : st.headers) headers[k] = v;
  j["headers"] = headers;
  if (st.has_progress) {
    j["progress"] = {{"percent", st.progress_percent}, {"message", st.progress_message}};
  } else {
    j["progress"] = nullptr;
  }
  j["enqueued_at"] = Time(st.enqueued_unix_ns);
  j["started_at"] = Time(st.started_unix_ns);
  j["finished_at"] = Time(st.finished_unix_ns);
  j["updated_at"] = Time(st.updated_unix_ns);
  j["error"] = st.error.empty() ? Json(nullptr) : Json(st.error);
  j["result_bytes"] = st.result_bytes;
  j["cancel_requested"] = st.cancel_requested;
  if (!st.token.empty()) {
    j["status_url"] = JobPath(queue, st.token);
    if (st.state == JobState::kCompleted) j["result_url"] = ResultPath(queue, st.token);
  }
  return j;
}

Json ErrorJson(const std::string& message, Json extra) {
  Json j;
  j["error"] = message;
  for (const auto& item : extra.items()) j[item.key()] = item.value();
  return j;
}

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace taskring::http
