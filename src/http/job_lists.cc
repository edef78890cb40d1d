#include "http/job_lists.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <vector>

#include "http/queue_registry.h"
#include "segment/client_table.h"
#include "segment/slot.h"
#include "util/clock.h"

namespace taskring::http {
namespace {

using segment::SlotState;

// What the scan keeps of a slot: enough to order the rows and to name the job.
struct SlotRow {
  uint64_t job_id = 0;
  uint64_t sort_key = 0;  // started (running) or due (delayed) time
  int32_t worker_pid = 0;
};

enum class Want { kLeased, kDelayed };

// Every slot in the wanted states; times a scribbler made absurd stay in (sorted last or
// first), they are only an order. Bounded by the capacity the segment was validated with.
std::vector<SlotRow> Scan(QueueEntry& entry, Want want) {
  std::vector<SlotRow> rows;
  entry.WithSegment([&](const segment::Segment& seg) {
    const uint32_t max_clients = seg.params().max_clients;
    for (uint32_t i = 0; i < seg.params().capacity; ++i) {
      segment::SlotHeader* h = seg.slot(i);
      const uint64_t word = h->word.load(std::memory_order_acquire);
      const SlotState st = segment::SlotStateOf(word);
      const bool match = want == Want::kLeased ? segment::IsLeased(st) : st == SlotState::kDelayed;
      if (!match) continue;
      SlotRow r;
      // atomic_ref: the slot's owner may be rewriting these while we read.
      r.job_id = std::atomic_ref<uint64_t>(h->job_id).load(std::memory_order_relaxed);
      r.sort_key = std::atomic_ref<uint64_t>(want == Want::kLeased ? h->started_unix_ns
                                                                   : h->not_before_unix_ns)
                       .load(std::memory_order_relaxed);
      const uint32_t owner = segment::SlotOwner(word);
      if (want == Want::kLeased && owner < max_clients) {
        r.worker_pid = segment::OwnerPid(seg.client(owner)->owner.load(std::memory_order_acquire));
        if (r.worker_pid < 0) r.worker_pid = 0;
      }
      if (r.job_id != 0) rows.push_back(r);
    }
  });
  return rows;
}

Json JobUrl(const std::string& queue, const JobStatus& st) {
  return st.token.empty() ? Json(nullptr) : Json(JobPath(queue, st.token));
}

// A delayed job that already ran: it failed and waits for its retry backoff (the status reads
// kDelayed while it waits, kRetrying in between).
bool WaitsToRetry(const JobStatus& st) {
  return st.state == JobState::kRetrying || (st.state == JobState::kDelayed && st.attempt > 0);
}

Json TokenOrNull(const JobStatus& st) { return st.token.empty() ? Json(nullptr) : Json(st.token); }

}  // namespace

bool ParseListLimit(const QueryParams& query, size_t* limit, std::string* error) {
  *limit = kDefaultListLimit;
  for (const auto& [k, v] : query) {
    if (k != "limit") {
      *error = "unknown query parameter '" + k + "'";
      return false;
    }
    size_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n == 0 ||
        n > kMaxListLimit) {
      *error = "limit must be a whole number from 1 to " + std::to_string(kMaxListLimit);
      return false;
    }
    *limit = n;
  }
  return true;
}

Json RunningJobs(QueueEntry& entry, const JobClient& jobs, const std::string& queue, size_t limit) {
  std::vector<SlotRow> rows = Scan(entry, Want::kLeased);
  std::sort(rows.begin(), rows.end(),
            [](const SlotRow& a, const SlotRow& b) { return a.sort_key < b.sort_key; });
  const uint64_t now = util::NowUnixNs();
  Json out = Json::array();
  for (const SlotRow& r : rows) {
    if (out.size() >= limit) break;
    JobStatus st;
    if (!jobs.GetStatus(r.job_id, &st).ok() || st.state != JobState::kRunning) continue;
    Json j;
    j["id"] = st.id;
    j["token"] = TokenOrNull(st);
    j["type"] = st.type;
    j["attempt"] = st.attempt;
    j["max_attempts"] = st.max_attempts;
    j["worker_pid"] = r.worker_pid;
    j["progress"] = st.has_progress
                        ? Json{{"percent", std::min<uint32_t>(st.progress_percent, 100)},
                               {"message", st.progress_message}}
                        : Json(nullptr);
    const uint64_t started = st.started_unix_ns;
    j["running_for_ms"] = started != 0 && started <= now ? (now - started) / 1'000'000 : 0;
    j["status_url"] = JobUrl(queue, st);
    out.push_back(std::move(j));
  }
  return out;
}

Json DelayedJobs(QueueEntry& entry, const JobClient& jobs, const std::string& queue, size_t limit) {
  std::vector<SlotRow> rows = Scan(entry, Want::kDelayed);
  std::sort(rows.begin(), rows.end(),
            [](const SlotRow& a, const SlotRow& b) { return a.sort_key < b.sort_key; });
  const uint64_t now = util::NowUnixNs();
  Json out = Json::array();
  for (const SlotRow& r : rows) {
    if (out.size() >= limit) break;
    JobStatus st;
    if (!jobs.GetStatus(r.job_id, &st).ok()) continue;
    if (st.state != JobState::kDelayed && st.state != JobState::kRetrying) continue;
    Json j;
    j["id"] = st.id;
    j["token"] = TokenOrNull(st);
    j["type"] = st.type;
    j["attempt"] = st.attempt;
    j["state"] = WaitsToRetry(st) ? "retrying" : JobStateName(st.state);
    j["due_unix_ms"] = r.sort_key / 1'000'000;
    j["due_in_ms"] = r.sort_key > now ? (r.sort_key - now) / 1'000'000 : 0;
    j["status_url"] = JobUrl(queue, st);
    out.push_back(std::move(j));
  }
  return out;
}

Json RetryingJobs(QueueEntry& entry, const JobClient& jobs, const std::string& queue,
                  size_t limit) {
  std::vector<SlotRow> rows = Scan(entry, Want::kDelayed);
  // A bounded number of status reads: the most recent failures are among the latest due.
  std::sort(rows.begin(), rows.end(),
            [](const SlotRow& a, const SlotRow& b) { return a.sort_key > b.sort_key; });
  Json out = Json::array();
  size_t read = 0;
  for (const SlotRow& r : rows) {
    if (out.size() >= limit || read++ >= 4 * limit) break;
    JobStatus st;
    if (!jobs.GetStatus(r.job_id, &st).ok() || !WaitsToRetry(st)) continue;
    Json j;
    j["kind"] = "retrying";
    j["id"] = st.id;
    j["token"] = TokenOrNull(st);
    j["type"] = st.type;
    j["attempt"] = st.attempt;
    j["max_attempts"] = st.max_attempts;
    j["error"] = st.error;
    j["when_unix_ms"] = st.finished_unix_ns / 1'000'000;
    j["status_url"] = JobUrl(queue, st);
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace taskring::http
