#include "daemon/metrics_exporter.h"

#include <netdb.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <limits>
#include <thread>
#include <vector>

#include "metrics/snapshot.h"
#include "util/version.h"

namespace taskring::daemon {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using segment::Counter;
using segment::Histogram;

constexpr double kNsPerSecond = 1e9;

// Builds the families of one scrape; every sample carries the queue label.
struct Builder {
  std::vector<MetricFamily> out;
  std::string queue;

  MetricFamily& Family(const char* name, const char* help, MetricType type) {
    out.push_back(MetricFamily{name, help, type, {}});
    return out.back();
  }
  ClientMetric& Sample(MetricFamily& f, ClientMetric::Label extra = {}) {
    f.metric.emplace_back();
    ClientMetric& m = f.metric.back();
    m.label.push_back({"queue", queue});
    if (!extra.name.empty()) m.label.push_back(std::move(extra));
    return m;
  }
  void Gauge(const char* name, const char* help, double v) {
    Sample(Family(name, help, MetricType::Gauge)).gauge.value = v;
  }
  void CounterFamily(const char* name, const char* help, uint64_t v) {
    Sample(Family(name, help, MetricType::Counter)).counter.value = static_cast<double>(v);
  }
  void HistogramFamily(const char* name, const char* help, const metrics::HistogramSnapshot& h,
                       ClientMetric::Label extra = {}) {
    ClientMetric& m = Sample(Family(name, help, MetricType::Histogram), std::move(extra));
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = static_cast<double>(h.sum_ns) / kNsPerSecond;
    for (uint32_t i = 0; i <= segment::kHistogramBuckets; ++i) {
      const double le = i < segment::kHistogramBuckets
                            ? static_cast<double>(metrics::kBucketBoundsNs[i]) / kNsPerSecond
                            : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back({h.cumulative[i], le});
    }
  }
};

class SegmentCollector : public prometheus::Collectable {
 public:
  SegmentCollector(const segment::Segment& seg, uint64_t outcome_max_bytes)
      : seg_(seg), outcome_max_bytes_(outcome_max_bytes) {}

  std::vector<MetricFamily> Collect() const override {
    metrics::QueueSnapshot s;
    metrics::TakeSnapshot(seg_, &s);
    Builder b{{}, s.queue};

    b.Gauge("taskring_up", "1 while the daemon serves the queue and admits jobs.", s.up);
    b.Gauge("taskring_queue_depth", "Jobs ready and waiting for a worker.", s.queued);
    b.Gauge("taskring_queue_capacity", "Most jobs the queue holds at once (outstanding).",
            s.capacity);
    b.Gauge("taskring_jobs_outstanding", "Jobs accepted and not yet completed or dead.",
            s.outstanding);
    b.Gauge("taskring_jobs_delayed", "Jobs waiting for a retry backoff or a requested delay.",
            s.delayed);
    b.Gauge("taskring_jobs_running", "Jobs leased to a worker.", s.running);
    b.Gauge("taskring_oldest_job_age_seconds",
            "Age of the oldest job ready but not yet started (0 when none waits).",
            s.oldest_queued_age_ns / kNsPerSecond);
    b.Gauge("taskring_workers", "Live worker processes attached to the queue.", s.workers);
    b.Gauge("taskring_producers", "Live producer processes attached to the queue.", s.producers);
    b.Gauge("taskring_dead_letters", "Dead letters kept in the WAL directory's dead/ folder.",
            s.dead_letters);
    MetricFamily& by_priority =
        b.Family("taskring_queued_jobs", "Jobs ready and waiting for a worker, by priority (0-9).",
                 MetricType::Gauge);
    for (uint32_t p = 0; p < segment::kPriorityLevels; ++p) {
      b.Sample(by_priority, {"priority", std::to_string(p)}).gauge.value =
          static_cast<double>(s.queued_by_priority[p]);
    }
    b.Gauge("taskring_paused",
            "1 while the queue is paused (taskring queue pause): nothing is "
            "handed out, new jobs are still accepted.",
            s.paused ? 1 : 0);
    b.Gauge("taskring_jobs_waiting_undeclared_type",
            "Queued typed jobs that no live worker can take (no worker declares their type and "
            "none takes every type).",
            static_cast<double>(s.waiting_undeclared));
    b.Gauge("taskring_wal_segments", "WAL segment files on disk.", s.wal_segments);
    b.Gauge("taskring_wal_disk_bytes", "Disk space used by WAL segment files.", s.wal_disk_bytes);
    b.Gauge("taskring_outcome_store_bytes",
            "Size of the outcome store (DIR/outcomes): the status, result and error of finished "
            "jobs and failed attempts.",
            s.outcome_bytes);
    b.Gauge("taskring_outcome_store_records",
            "Outcome records in the store (superseded ones included until their file goes).",
            s.outcome_records);
    if (outcome_max_bytes_ != 0) {
      b.Gauge("taskring_outcome_store_max_bytes",
              "The outcome store's bound (--result-max-mb): the oldest outcomes beyond it are "
              "evicted (the file being written can take the store past it).",
              static_cast<double>(outcome_max_bytes_));
    }

    b.CounterFamily("taskring_jobs_accepted_total", "Jobs accepted (logged in the WAL).",
                    s.counter(Counter::kAccepted));
    MetricFamily& rejected = b.Family("taskring_jobs_rejected_total",
                                      "Enqueues refused, by reason: busy (queue full), too_large, "
                                      "storage (WAL failing), stopped (daemon stopping or gone).",
                                      MetricType::Counter);
    for (uint32_t r = 0; r < segment::kRejectReasonCount; ++r) {
      ClientMetric& m = b.Sample(rejected);
      m.label.push_back(
          {"reason", segment::RejectReasonName(static_cast<segment::RejectReason>(r))});
      m.counter.value = static_cast<double>(s.rejected[r]);
    }
    b.CounterFamily("taskring_jobs_completed_total", "Jobs completed.",
                    s.counter(Counter::kCompleted));
    b.CounterFamily("taskring_jobs_failed_total",
                    "Failed attempts (handler failure, or a run lost to a dead worker counts "
                    "when it ends the job).",
                    s.counter(Counter::kFailed));
    b.CounterFamily("taskring_jobs_retried_total", "Failed jobs scheduled for another attempt.",
                    s.counter(Counter::kRetried));
    b.CounterFamily("taskring_jobs_dead_total", "Jobs dead-lettered after their last attempt.",
                    s.counter(Counter::kDead));
    b.CounterFamily("taskring_jobs_redelivered_total",
                    "Jobs handed out again because their worker died, their lease expired or the "
                    "daemon restarted while they ran.",
                    s.counter(Counter::kRedelivered));
    b.CounterFamily("taskring_stale_acks_total",
                    "Outcomes rejected because their lease had ended (late or duplicate acks).",
                    s.counter(Counter::kStaleAcks));
    b.CounterFamily("taskring_leases_expired_total", "Leases revoked for want of a heartbeat.",
                    s.counter(Counter::kLeasesExpired));
    b.CounterFamily("taskring_dead_evicted_total",
                    "Oldest dead letters removed to stay within --dead-max.",
                    s.counter(Counter::kDeadEvicted));
    b.CounterFamily("taskring_dedup_hits_total",
                    "Enqueues whose idempotency key was seen within the dedup window: answered "
                    "with the first job's id, nothing created.",
                    s.counter(Counter::kDedupHits));
    b.CounterFamily("taskring_dedup_evicted_total",
                    "Idempotency keys forgotten before their window ended, to stay within "
                    "--dedup-max.",
                    s.counter(Counter::kDedupEvicted));
    b.CounterFamily("taskring_job_timeouts_total",
                    "Attempts revoked because they ran past their job's timeout.",
                    s.counter(Counter::kTimeouts));
    b.CounterFamily("taskring_jobs_cancelled_total",
                    "Jobs that ended cancelled: queued or delayed jobs cancelled by purge or by "
                    "id (never run), and running jobs that stopped after a cancel request.",
                    s.counter(Counter::kCancelled));
    b.CounterFamily("taskring_cancel_requests_total",
                    "Cancels asked of running jobs: their handlers see cancel_requested() and "
                    "decide (a failure from then on ends the job cancelled).",
                    s.counter(Counter::kCancelRequests));
    b.CounterFamily("taskring_outcomes_stored_total",
                    "Outcome records written to the store: jobs that ended (completed, dead, "
                    "cancelled) and failed attempts.",
                    s.counter(Counter::kOutcomesStored));
    b.CounterFamily("taskring_outcomes_evicted_total",
                    "Outcomes no longer readable before --result-ttl ended: deleted to stay "
                    "within --result-max-mb, or displaced from the outcome index it sizes.",
                    s.counter(Counter::kOutcomesEvicted));
    b.CounterFamily("taskring_outcomes_expired_total", "Outcomes deleted after --result-ttl.",
                    s.counter(Counter::kOutcomesExpired));
    b.CounterFamily("taskring_wal_bytes_total", "Bytes written to the WAL.",
                    s.counter(Counter::kWalBytes));
    MetricFamily& fsyncs =
        b.Family("taskring_wal_fsyncs_total", "fdatasync calls on the WAL.", MetricType::Counter);
    b.Sample(fsyncs, {"mode", s.durability}).counter.value =
        static_cast<double>(s.counter(Counter::kWalFsyncs));

    b.HistogramFamily("taskring_job_wait_seconds",
                      "From accepted to first started (includes any requested delay).",
                      s.histogram(Histogram::kJobWait));
    b.HistogramFamily("taskring_job_run_seconds", "From started to the worker's outcome.",
                      s.histogram(Histogram::kJobRun));
    b.HistogramFamily("taskring_job_latency_seconds", "From accepted to completed or dead.",
                      s.histogram(Histogram::kJobLatency));
    b.HistogramFamily("taskring_wal_fsync_seconds", "Duration of one WAL fdatasync.",
                      s.histogram(Histogram::kWalFsync), {"mode", s.durability});

    MetricFamily& info =
        b.Family("taskring_build_info", "taskring version; always 1.", MetricType::Gauge);
    b.Sample(info, {"version", util::kVersion}).gauge.value = 1;
    return std::move(b.out);
  }

 private:
  const segment::Segment& seg_;
  const uint64_t outcome_max_bytes_;  // 0: not served
};

// The errno of binding a TCP socket to `address` (HOST:PORT, HOST may be [v6]), 0 if it binds.
int BindError(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints, &res) != 0) {
    return EADDRNOTAVAIL;
  }
  int err = 0;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
  } else {
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as civetweb does
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0) err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return err;
}

// Opens and closes one TCP connection to HOST:PORT (a wildcard host means this host).
void ConnectOnce(std::string host, int port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)::connect(fd, res->ai_addr, res->ai_addrlen);
    ::close(fd);
  }
  ::freeaddrinfo(res);
}

}  // namespace

Status ValidateListenAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.size() - colon > 6 ||
      address.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
      std::stoul(address.substr(colon + 1)) > 65535) {
    return Status::InvalidArgument("--metrics-listen must be HOST:PORT, got '" + address + "'");
  }
  return Status::OK();
}

Status MetricsExporter::Start(const std::string& address, const segment::Segment& seg,
                              uint64_t outcome_max_bytes, std::unique_ptr<MetricsExporter>* out,
                              bool* in_use) {
  return Start(address, std::make_shared<SegmentCollector>(seg, outcome_max_bytes), out, in_use);
}

Status MetricsExporter::Start(const std::string& address,
                              std::shared_ptr<prometheus::Collectable> collectable,
                              std::unique_ptr<MetricsExporter>* out, bool* in_use) {
  if (in_use != nullptr) *in_use = false;
  Status s = ValidateListenAddress(address);
  if (!s.ok()) return s;
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  try {
    // Two request threads; keep-alive off, so a scraper's idle connection never holds a thread
    // (and with it the daemon's exit) for civetweb's keep-alive timeout.
    e->exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", "2", "enable_keep_alive", "no",
        "request_timeout_ms", "5000", "linger_timeout_ms", "0"});
  } catch (const std::exception&) {
    // civetweb's own message ("null context when constructing CivetServer") says nothing
    // useful: find out why by binding the address ourselves.
    const int err = BindError(address);
    if (in_use != nullptr) *in_use = err == EADDRINUSE;
    const std::string why = err == EADDRINUSE      ? "the port is already in use"
                            : err == EADDRNOTAVAIL ? "no such address on this host"
                            : err == EACCES        ? "permission denied (ports below 1024?)"
                            : err != 0             ? std::strerror(err)
                                                   : "the HTTP server could not start";
    return Status::IOError("cannot serve metrics on " + address + ": " + why +
                           " (choose another with --metrics-listen HOST:PORT, port 0 = any "
                           "free port, or --no-metrics)");
  }
  e->collector_ = std::move(collectable);
  e->exposer_->RegisterCollectable(e->collector_);
  const std::vector<int> ports = e->exposer_->GetListeningPorts();
  e->port_ = ports.empty() ? 0 : ports.front();
  e->host_ = address.substr(0, address.rfind(':'));
  *out = std::move(e);
  return Status::OK();
}

MetricsExporter::~MetricsExporter() {
  if (!exposer_) return;
  // civetweb's listener thread checks its stop flag only between polls of up to two seconds,
  // so stopping it idle took 1.5-2 s of every daemon exit. Connections made while it stops wake
  // that poll at once.
  std::atomic<bool> stopped{false};
  std::thread nudger([&] {
    while (!stopped.load()) {
      ConnectOnce(host_, port_);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  exposer_.reset();
  stopped.store(true);
  nudger.join();
}

}  // namespace taskring::daemon
