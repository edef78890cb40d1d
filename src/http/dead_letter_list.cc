#include "http/dead_letter_list.h"

#include <memory>
#include <vector>

#include "http/html_escape.h"
#include "taskring/dead_letters.h"

namespace taskring::http {
namespace {

// The job's last error, from its kept outcome; "" when there is none.
std::string LastError(const JobClient* jobs, uint64_t id, std::string* token) {
  JobStatus st;
  if (jobs == nullptr || !jobs->GetStatus(id, &st).ok()) return "";
  *token = st.token;
  return st.error;
}

Status Open(const std::string& queue, std::unique_ptr<DeadLetters>* dead) {
  DeadLettersOptions o;
  o.queue = queue;
  return DeadLetters::Open(o, dead);
}

Json Nullable(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

}  // namespace

Status ListDeadLetters(const std::string& queue, const JobClient* jobs, size_t limit, Json* out) {
  std::unique_ptr<DeadLetters> dead;
  Status s = Open(queue, &dead);
  if (!s.ok()) return s;
  std::vector<uint64_t> ids;
  if (dead->exists()) {
    s = dead->List(&ids);
    if (!s.ok()) return s;
  }
  Json letters = Json::array();
  for (auto it = ids.rbegin(); it != ids.rend() && letters.size() < limit; ++it) {
    DeadLetter d;
    Json j;
    j["id"] = *it;
    const Status r = dead->Read(*it, &d);
    if (r.IsNotFound()) continue;  // requeued or purged since List
    if (!r.ok()) {
      j["error"] = "unreadable dead letter: " + std::string(r.message());
      letters.push_back(std::move(j));
      continue;
    }
    std::string token;
    const std::string error = LastError(jobs, d.job_id, &token);
    bool binary = false;
    j["type"] = d.type;
    j["attempts"] = d.attempts;
    j["max_attempts"] = d.max_attempts;
    j["reason"] = d.reason;
    j["error"] = error.empty() ? d.reason : error;
    j["payload_preview"] = PreviewText(d.payload, kPayloadPreviewBytes, &binary);
    j["binary"] = binary;
    j["payload_bytes"] = d.payload.size();
    j["enqueued_unix_ms"] = d.enqueued_unix_ns / 1'000'000;
    j["dead_unix_ms"] = d.dead_unix_ns / 1'000'000;
    j["token"] = Nullable(token);
    j["status_url"] = token.empty() ? Json(nullptr) : Json(JobPath(queue, token));
    letters.push_back(std::move(j));
  }
  Json j;
  j["total"] = ids.size();
  j["letters"] = std::move(letters);
  *out = std::move(j);
  return Status::OK();
}

Json DeadFailureRows(const std::string& queue, const JobClient* jobs, size_t limit) {
  Json list;
  Json rows = Json::array();
  if (!ListDeadLetters(queue, jobs, limit, &list).ok()) return rows;
  for (const Json& d : list["letters"]) {
    if (!d.contains("type")) continue;  // unreadable: shown on the dead-letter page
    Json r;
    r["kind"] = "dead";
    r["id"] = d["id"];
    r["token"] = d["token"];
    r["type"] = d["type"];
    r["attempt"] = d["attempts"];
    r["max_attempts"] = d["max_attempts"];
    r["error"] = d["error"];
    r["when_unix_ms"] = d["dead_unix_ms"];
    r["status_url"] = d["status_url"];
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace taskring::http
