// taskring stat: a queue's numbers read straight from its shared-memory segment (like
// AeronStat), so it works when the daemon's HTTP endpoint is off, and even after the daemon
// died. --watch redraws every interval with per-second rates.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "metrics/snapshot.h"
#include "segment/segment.h"
#include "segment/segment_header.h"
#include "util/flags.h"

namespace taskring::cli {
namespace {

using metrics::QueueSnapshot;

struct Row {
  std::string name;
  uint64_t value;
  bool rate;  // a counter: --watch shows its rate
};

std::vector<Row> Rows(const QueueSnapshot& s) {
  std::vector<Row> rows = {
      {"capacity", s.capacity, false},
      {"depth", s.queued, false},
      {"outstanding", s.outstanding, false},
      {"running", s.running, false},
      {"delayed", s.delayed, false},
      {"oldest_age_ms", s.oldest_queued_age_ns / 1'000'000, false},
      {"untaken_types", s.waiting_undeclared, false},  // typed jobs no live worker can take
      {"workers", s.workers, false},
      {"producers", s.producers, false},
      {"dead_letters", s.dead_letters, false},
      {"wal_segments", s.wal_segments, false},
      {"wal_disk_bytes", s.wal_disk_bytes, false},
      {"outcome_bytes", s.outcome_bytes, false},  // the outcome store, DIR/outcomes
      {"outcome_records", s.outcome_records, false},
      {"max_payload", s.max_payload, false},
      {"daemon_pid", static_cast<uint64_t>(s.daemon_pid), false},
      {"next_job_id", s.next_job_id, false},
  };
  for (uint32_t c = 0; c < segment::kCounterCount; ++c) {
    rows.push_back({segment::CounterName(static_cast<segment::Counter>(c)), s.counters[c], true});
  }
  for (uint32_t r = 0; r < segment::kRejectReasonCount; ++r) {
    rows.push_back({std::string("rejected_") +
                        segment::RejectReasonName(static_cast<segment::RejectReason>(r)),
                    s.rejected[r], true});
  }
  return rows;
}

// paused: the segment header's flag (taskring queue pause), read beside the snapshot.
std::string Json(const QueueSnapshot& s, bool paused) {
  std::string out = "{\"queue\":\"" + s.queue + "\",\"daemon\":\"" + s.daemon_state +
                    "\",\"paused\":" + (paused ? "1" : "0") + ",\"durability\":\"" + s.durability +
                    "\",\"up\":" + (s.up ? "1" : "0") +
                    ",\"metrics_port\":" + std::to_string(s.metrics_port);
  std::string counters;
  for (const Row& r : Rows(s)) {
    std::string& into = r.rate ? counters : out;
    into += (r.rate && into.empty() ? "\"" : ",\"") + r.name + "\":" + std::to_string(r.value);
  }
  out += ",\"depth_by_priority\":[";
  for (uint32_t p = 0; p < segment::kPriorityLevels; ++p) {
    out += (p ? "," : "") + std::to_string(s.queued_by_priority[p]);
  }
  out += "],\"counters\":{" + counters + "},\"latency_ms\":{";
  for (uint32_t i = 0; i < segment::kHistogramCount; ++i) {
    const metrics::HistogramSnapshot& h = s.histograms[i];
    char buf[160];
    std::snprintf(buf, sizeof(buf),
                  "%s\"%s\":{\"count\":%llu,\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f}", i ? "," : "",
                  segment::HistogramName(static_cast<segment::Histogram>(i)),
                  static_cast<unsigned long long>(h.count), h.QuantileNs(0.5) / 1e6,
                  h.QuantileNs(0.99) / 1e6, h.QuantileNs(0.999) / 1e6);
    out += buf;
  }
  return out + "}}\n";
}

// `prev` (may be null) is the previous frame of --watch, `secs` the time between them.
void PrintTable(const QueueSnapshot& s, bool paused, const QueueSnapshot* prev, double secs) {
  std::printf("queue          %s\ndaemon         %s\npaused         %s\ndurability     %s\n",
              s.queue.c_str(), s.daemon_state, paused ? "yes (taskring queue resume)" : "no",
              s.durability);
  if (s.metrics_port != 0) {
    std::printf("metrics        port %u (/metrics)\n", s.metrics_port);
  } else {
    std::printf("metrics        off\n");
  }
  const std::vector<Row> rows = Rows(s);
  const std::vector<Row> before = prev != nullptr ? Rows(*prev) : std::vector<Row>{};
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::printf("%-14s %llu", r.name.c_str(), static_cast<unsigned long long>(r.value));
    if (r.rate && prev != nullptr && secs > 0 && r.value >= before[i].value) {
      std::printf("   (%.1f/s)", static_cast<double>(r.value - before[i].value) / secs);
    }
    std::printf("\n");
  }
  // Only the priorities that hold jobs, highest first: "9:1 5:120".
  std::string by_priority;
  for (uint32_t p = segment::kPriorityLevels; p-- > 0;) {
    if (s.queued_by_priority[p] == 0) continue;
    by_priority += (by_priority.empty() ? "" : " ") + std::to_string(p) + ":" +
                   std::to_string(s.queued_by_priority[p]);
  }
  std::printf("%-14s %s\n", "depth_by_prio", by_priority.empty() ? "-" : by_priority.c_str());
  std::printf("%-14s %10s %10s %10s %10s\n", "latency (ms)", "count", "p50", "p99", "p99.9");
  for (uint32_t i = 0; i < segment::kHistogramCount; ++i) {
    const metrics::HistogramSnapshot& h = s.histograms[i];
    std::printf("%-14s %10llu %10.3f %10.3f %10.3f\n",
                segment::HistogramName(static_cast<segment::Histogram>(i)),
                static_cast<unsigned long long>(h.count), h.QuantileNs(0.5) / 1e6,
                h.QuantileNs(0.99) / 1e6, h.QuantileNs(0.999) / 1e6);
  }
}

}  // namespace

int StatCommand(int argc, char** argv) {
  const std::string cmd = argv[1];  // "stat" or its older name "stats"
  std::string queue;
  bool json = false, watch = false;
  uint64_t interval_ms = 1000, count = 0;
  util::FlagSet flags(
      "taskring stat --queue NAME [--json] [--watch [--interval-ms MS] [--count N]]",
      "Prints a queue's gauges, counters and latency quantiles, read from its shared-memory\n"
      "segment (no daemon HTTP endpoint needed). --watch redraws every interval with rates.\n"
      "Quantiles are estimated from the same histogram buckets Prometheus scrapes.");
  flags.String("queue", &queue, "queue name");
  flags.Bool("json", &json, "one JSON object (per frame with --watch)");
  flags.Bool("watch", &watch, "refresh until interrupted");
  flags.Uint("interval-ms", &interval_ms, 50, 3600000, "--watch refresh period (1000)");
  flags.Uint("count", &count, 0, UINT64_MAX, "--watch: stop after N frames (0 = never)");
  uint64_t wait_s = 0;
  flags.Uint("wait", &wait_s, 0, 86400,
             "wait up to this long for a queue that does not exist yet or is starting (0)");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  if (queue.empty()) return Error(cmd, "--queue is required (see --help)", 2);

  std::unique_ptr<segment::Segment> seg;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  // A stopped or crashed daemon's segment is still worth showing: only a missing or starting one
  // is waited for.
  while (!(s = segment::Segment::Attach(queue, /*read_only=*/true, &seg)).ok() &&
         (s.IsNotFound() || s.IsNotReady()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  QueueSnapshot prev, now;
  for (uint64_t frame = 0; !watch || count == 0 || frame < count; ++frame) {
    if (frame != 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    metrics::TakeSnapshot(*seg, &now);
    const bool paused = seg->header()->paused.load(std::memory_order_acquire) != 0;
    if (json) {
      std::fputs(Json(now, paused).c_str(), stdout);
    } else {
      if (watch && tty) std::fputs("\033[H\033[2J", stdout);  // redraw in place
      if (watch && !tty && frame != 0) std::fputs("\n", stdout);
      PrintTable(now, paused, frame != 0 ? &prev : nullptr,
                 static_cast<double>(now.unix_ns - prev.unix_ns) / 1e9);
    }
    std::fflush(stdout);
    if (!watch) break;
    prev = now;
  }
  return 0;
}

}  // namespace taskring::cli
