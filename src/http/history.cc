#include "http/history.h"

#include <algorithm>

namespace taskring::http {
namespace {

double Rate(const metrics::QueueSnapshot& now, const metrics::QueueSnapshot& before,
            segment::Counter c, double secs) {
  const uint64_t a = now.counter(c), b = before.counter(c);
  return a >= b ? static_cast<double>(a - b) / secs : static_cast<double>(a) / secs;
}

double Ms(double ns) { return ns / 1e6; }

}  // namespace

metrics::HistogramSnapshot HistogramSince(const metrics::HistogramSnapshot& now,
                                          const metrics::HistogramSnapshot& before) {
  if (now.count < before.count) return now;  // restarted: all of `now` is new
  metrics::HistogramSnapshot d;
  uint64_t floor = 0;  // keeps the difference cumulative even if a reading was torn
  for (size_t i = 0; i < d.cumulative.size(); ++i) {
    const uint64_t a = now.cumulative[i], b = before.cumulative[i];
    floor = std::max(floor, a >= b ? a - b : 0);
    d.cumulative[i] = floor;
  }
  d.count = d.cumulative.back();
  d.sum_ns = now.sum_ns >= before.sum_ns ? now.sum_ns - before.sum_ns : 0;
  return d;
}

void History::Add(const metrics::QueueSnapshot& snap) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_base_ || snap.unix_ns <= base_.unix_ns) {
    base_ = snap;
    has_base_ = true;
    return;
  }
  const double secs = static_cast<double>(snap.unix_ns - base_.unix_ns) / 1e9;
  HistorySample s;
  s.unix_ms = snap.unix_ns / 1'000'000;
  s.depth = snap.queued;
  s.running = snap.running;
  s.accepted_per_s = Rate(snap, base_, segment::Counter::kAccepted, secs);
  s.completed_per_s = Rate(snap, base_, segment::Counter::kCompleted, secs);
  s.failed_per_s = Rate(snap, base_, segment::Counter::kFailed, secs);
  const metrics::HistogramSnapshot wait = HistogramSince(
      snap.histogram(segment::Histogram::kJobWait), base_.histogram(segment::Histogram::kJobWait));
  const metrics::HistogramSnapshot e2e =
      HistogramSince(snap.histogram(segment::Histogram::kJobLatency),
                     base_.histogram(segment::Histogram::kJobLatency));
  s.wait_p50_ms = Ms(wait.QuantileNs(0.5));
  s.wait_p99_ms = Ms(wait.QuantileNs(0.99));
  s.e2e_p50_ms = Ms(e2e.QuantileNs(0.5));
  s.e2e_p99_ms = Ms(e2e.QuantileNs(0.99));
  ring_[next_] = s;
  next_ = (next_ + 1) % kCapacity;
  size_ = std::min(size_ + 1, kCapacity);
  base_ = snap;
}

void History::Rebase() {
  std::lock_guard<std::mutex> lock(mu_);
  has_base_ = false;
}

Json History::ToJson(size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = std::min(limit, size_);
  Json samples = Json::array();
  for (size_t k = 0; k < n; ++k) {
    const HistorySample& s = ring_[(next_ + kCapacity - n + k) % kCapacity];
    samples.push_back({{"t", s.unix_ms},
                       {"depth", s.depth},
                       {"running", s.running},
                       {"accepted_per_s", s.accepted_per_s},
                       {"completed_per_s", s.completed_per_s},
                       {"failed_per_s", s.failed_per_s},
                       {"wait_p50_ms", s.wait_p50_ms},
                       {"wait_p99_ms", s.wait_p99_ms},
                       {"e2e_p50_ms", s.e2e_p50_ms},
                       {"e2e_p99_ms", s.e2e_p99_ms}});
  }
  Json j;
  j["interval_ms"] = kIntervalMs;
  j["samples"] = std::move(samples);
  return j;
}

}  // namespace taskring::http
