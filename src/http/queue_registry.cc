#include "http/queue_registry.h"

#include <algorithm>

#include "admission/admission.h"
#include "segment/daemon_life.h"
#include "segment/metrics_catalog.h"
#include "segment/queue_names.h"
#include "segment/segment_header.h"

namespace taskring::http {

QueueEntry::QueueEntry(std::string name, const GatewayOptions& options)
    : name_(std::move(name)),
      pool_(name_, options.producers_per_queue, options.max_pending_per_queue, &generation_) {}

bool QueueEntry::Snapshot(metrics::QueueSnapshot* out) {
  return WithSegment([out](const segment::Segment& seg) { metrics::TakeSnapshot(seg, out); });
}

bool QueueEntry::WithSegment(const std::function<void(const segment::Segment&)>& read) {
  std::shared_ptr<const segment::Segment> seg;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seg = seg_;
  }
  if (seg == nullptr) return false;
  read(*seg);
  return true;
}

Json QueueEntry::Stats(metrics::QueueSnapshot* snap) {
  std::lock_guard<std::mutex> lock(mu_);
  Json j;
  if (seg_ == nullptr) return ErrorJson("queue '" + name_ + "' is not attached");
  metrics::QueueSnapshot s;
  metrics::TakeSnapshot(*seg_, &s);
  if (snap != nullptr) *snap = s;
  const segment::SegmentHeader* h = seg_->header();
  j["queue"] = name_;
  j["daemon"] = s.daemon_state;
  j["up"] = s.up;
  j["paused"] = h->paused.load(std::memory_order_acquire) != 0;
  j["durability"] = s.durability;
  j["depth"] = s.queued;
  j["capacity"] = s.capacity;
  j["outstanding"] = s.outstanding;
  j["running"] = s.running;
  j["delayed"] = s.delayed;
  j["oldest_age_ms"] = s.oldest_queued_age_ns / 1'000'000;
  j["workers"] = s.workers;
  j["producers"] = s.producers;
  j["dead_letters"] = s.dead_letters;
  j["max_payload"] = s.max_payload;
  const uint64_t drain_milli = h->drain_rate_milli.load(std::memory_order_relaxed);
  j["drain_per_s"] = static_cast<double>(drain_milli) / 1000.0;
  j["retry_after_ms"] = admission::RetryAfterMs(s.outstanding, drain_milli);
  // Counter rates: since a reading at least a second older (the first call has none yet).
  if (rate_base_.unix_ns == 0) {
    rate_base_ = s;
  } else if (s.unix_ns >= rate_base_.unix_ns + 1'000'000'000) {
    const double secs = static_cast<double>(s.unix_ns - rate_base_.unix_ns) / 1e9;
    Json rates;
    for (uint32_t c = 0; c < segment::kCounterCount; ++c) {
      const auto counter = static_cast<segment::Counter>(c);
      const uint64_t now = s.counter(counter), before = rate_base_.counter(counter);
      rates[segment::CounterName(counter)] =
          now >= before ? static_cast<double>(now - before) / secs : 0.0;
    }
    rates["over_s"] = secs;
    last_rates_ = std::move(rates);
    rate_base_ = s;
  }
  j["rates_per_s"] = last_rates_;
  return j;
}

std::string QueueEntry::Unhealthy() {
  std::lock_guard<std::mutex> lock(mu_);
  if (seg_ == nullptr) return "not attached";
  const segment::SegmentHeader* h = seg_->header();
  if (!segment::DaemonLifeHeld(h)) return "daemon is gone";
  const auto state = static_cast<segment::DaemonState>(h->daemon_state.load());
  switch (state) {
    case segment::DaemonState::kRunning: return "";
    case segment::DaemonState::kRefusing: return "daemon refuses new jobs (storage error)";
    case segment::DaemonState::kStarting: return "daemon is starting";
    case segment::DaemonState::kStopping: return "daemon is stopping";
    default: return "daemon is not running";
  }
}

bool QueueRegistry::Known(const std::string& name) const {
  if (std::find(options_.queues.begin(), options_.queues.end(), name) != options_.queues.end()) {
    return true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count(name) != 0;
}

Status QueueRegistry::Get(const std::string& name, QueueView* out) {
  *out = QueueView{};
  if (!segment::ValidateQueueName(name).ok()) {
    return Status::NotFound("no queue '" + name + "' (not a queue name)");
  }
  const bool listed =
      std::find(options_.queues.begin(), options_.queues.end(), name) != options_.queues.end();
  if (!options_.queues.empty() && !listed) {
    return Status::NotFound("queue '" + name + "' is not served by this gateway");
  }
  std::shared_ptr<QueueEntry> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) e = it->second;
  }
  if (e == nullptr) {
    // Attach before creating the entry (and its threads), so requests naming queues that do
    // not exist cost nothing lasting.
    std::unique_ptr<segment::Segment> probe;
    Status s = segment::Segment::Attach(name, /*read_only=*/true, &probe);
    if (!s.ok()) {
      if (s.IsNotFound() && listed) {
        return Status::Closed("no daemon serves queue '" + name + "'");
      }
      return s.IsNotFound() ? Status::NotFound("no queue '" + name + "' on this host") : s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = entries_[name];
    if (slot == nullptr) slot = std::make_shared<QueueEntry>(name, options_);
    e = slot;
  }
  std::lock_guard<std::mutex> lock(e->mu_);
  if (e->seg_ == nullptr || !segment::DaemonLifeHeld(e->seg_->header())) {
    // First use, or the daemon died or stopped: attach to whatever serves the queue now.
    e->seg_.reset();
    e->jobs_.reset();
    std::unique_ptr<segment::Segment> seg;
    Status s = segment::Segment::Attach(name, /*read_only=*/true, &seg);
    if (s.IsNotFound()) return Status::Closed("no daemon serves queue '" + name + "'");
    if (!s.ok()) return s;
    if (!segment::DaemonLifeHeld(seg->header())) {
      return Status::Closed("the daemon of queue '" + name + "' is gone");
    }
    JobClientOptions jo;
    jo.queue = name;
    jo.attach_timeout_ms = 0;  // runs on an io thread: a starting daemon is a 503, not a wait
    std::unique_ptr<JobClient> jobs;
    s = JobClient::Open(jo, &jobs);
    if (!s.ok()) return s.IsNotFound() ? Status::Closed(s.message()) : s;
    e->seg_ = std::move(seg);
    e->jobs_ = std::move(jobs);
    e->rate_base_ = metrics::QueueSnapshot();
    e->last_rates_ = nullptr;
    e->history_.Rebase();
    e->generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  out->entry = e;
  out->jobs = e->jobs_;
  out->max_payload = e->seg_->params().max_payload;
  return Status::OK();
}

void QueueRegistry::StopPools() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, e] : entries_) e->pool().Stop();
}

std::vector<std::string> QueueRegistry::Served() const {
  if (!options_.queues.empty()) return options_.queues;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, e] : entries_) names.push_back(name);
  return names;
}

}  // namespace taskring::http
