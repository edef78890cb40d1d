// The daemon's Prometheus endpoint: names, labels and values read from shared memory.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "segment/segment.h"
#include "taskring/job_client.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

using test::Daemon;

// GET /metrics over a plain socket; "" on failure.
std::string Scrape(uint32_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      ssize_t n = 0;
      while ((n = ::read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return response;
}

// The value of the sample line starting with `series` ("name{labels}"), or -1.
double Value(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

class MetricsTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("metrics");
  test::TempDir tmp_;

  uint32_t Port() {
    std::unique_ptr<segment::Segment> seg;
    if (!segment::Segment::Attach(queue_, true, &seg).ok()) return 0;
    return seg->header()->metrics_port.load();
  }
};

TEST_F(MetricsTest, EndpointServesEveryMetricFromSharedMemory) {
  Daemon d(queue_, tmp_.path() + "/wal", {"--capacity", "3", "--max-attempts", "1"});
  ASSERT_TRUE(d.Start());
  const uint32_t port = Port();
  ASSERT_NE(port, 0u);
  EXPECT_NE(d.Log().find("metrics: http://127.0.0.1:" + std::to_string(port) + "/metrics"),
            std::string::npos)
      << d.Log();
  std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  uint64_t id = 0;
  for (int i = 0; i < 3; ++i) ASSERT_OK(prod->Enqueue("job", &id));
  EXPECT_TRUE(prod->Enqueue("one too many", &id).IsBusy());
  EXPECT_TRUE(prod->Enqueue(std::string(5000, 'x'), &id).IsInvalidArgument());
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  ASSERT_OK(worker->Complete(job));
  ASSERT_OK(worker->Take(&job, 5000));
  ASSERT_OK(worker->Fail(job));  // one attempt allowed: dead

  const std::string q = "{queue=\"" + queue_ + "\"}";
  std::string text;
  for (int i = 0; i < 300; ++i) {  // outcomes reach the counters a moment after the calls
    text = Scrape(port);
    if (Value(text, "taskring_jobs_dead_total" + q) == 1 &&
        Value(text, "taskring_outcomes_stored_total" + q) == 2) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(text.find("200 OK"), std::string::npos) << text.substr(0, 200);
  EXPECT_EQ(Value(text, "taskring_up" + q), 1);
  EXPECT_EQ(Value(text, "taskring_queue_capacity" + q), 3);
  EXPECT_EQ(Value(text, "taskring_queue_depth" + q), 1);
  EXPECT_EQ(Value(text, "taskring_jobs_outstanding" + q), 1);
  EXPECT_EQ(Value(text, "taskring_workers" + q), 1);
  EXPECT_EQ(Value(text, "taskring_producers" + q), 1);
  EXPECT_EQ(Value(text, "taskring_jobs_accepted_total" + q), 3);
  EXPECT_EQ(Value(text, "taskring_jobs_completed_total" + q), 1);
  EXPECT_EQ(Value(text, "taskring_jobs_failed_total" + q), 1);
  EXPECT_EQ(Value(text, "taskring_jobs_dead_total" + q), 1);
  EXPECT_EQ(Value(text, "taskring_dead_letters" + q), 1);
  // The completed and the dead job each left an outcome record; nothing was cancelled.
  EXPECT_EQ(Value(text, "taskring_outcomes_stored_total" + q), 2);
  EXPECT_EQ(Value(text, "taskring_outcome_store_records" + q), 2);
  EXPECT_GT(Value(text, "taskring_outcome_store_bytes" + q), 0);
  EXPECT_EQ(Value(text, "taskring_outcome_store_max_bytes" + q), 256 << 20) << "--result-max-mb";
  EXPECT_EQ(Value(text, "taskring_outcomes_evicted_total" + q), 0);
  EXPECT_EQ(Value(text, "taskring_outcomes_expired_total" + q), 0);
  EXPECT_EQ(Value(text, "taskring_cancel_requests_total" + q), 0);
  EXPECT_EQ(Value(text, "taskring_jobs_cancelled_total" + q), 0);
  const std::string qr = "{queue=\"" + queue_ + "\",reason=";
  EXPECT_EQ(Value(text, "taskring_jobs_rejected_total" + qr + "\"busy\"}"), 1);
  EXPECT_EQ(Value(text, "taskring_jobs_rejected_total" + qr + "\"too_large\"}"), 1);
  EXPECT_EQ(Value(text, "taskring_jobs_rejected_total" + qr + "\"storage\"}"), 0);
  EXPECT_EQ(Value(text, "taskring_jobs_rejected_total" + qr + "\"stopped\"}"), 0);
  EXPECT_GT(Value(text, "taskring_oldest_job_age_seconds" + q), 0);
  EXPECT_GE(Value(text, "taskring_wal_segments" + q), 1);
  EXPECT_GT(Value(text, "taskring_wal_disk_bytes" + q), 0);
  EXPECT_GT(Value(text, "taskring_wal_bytes_total" + q), 0);
  const std::string qm = "{queue=\"" + queue_ + "\",mode=\"fsync\"}";
  EXPECT_GE(Value(text, "taskring_wal_fsyncs_total" + qm), 1);
  EXPECT_GE(Value(text, "taskring_wal_fsync_seconds_count" + qm), 1);
  // Histograms: cumulative buckets from 1 us to 60 s, +Inf equal to the count.
  EXPECT_EQ(Value(text, "taskring_job_run_seconds_count" + q), 2);
  EXPECT_EQ(Value(text, "taskring_job_latency_seconds_count" + q), 2);
  EXPECT_EQ(Value(text, "taskring_job_wait_seconds_count" + q), 2);
  const std::string b = "taskring_job_run_seconds_bucket{queue=\"" + queue_ + "\",le=";
  EXPECT_EQ(Value(text, b + "\"+Inf\"}"), 2);
  EXPECT_GE(Value(text, b + "\"1e-06\"}"), 0);
  EXPECT_GE(Value(text, b + "\"60\"}"), 0);
  EXPECT_NE(text.find("taskring_build_info{queue=\"" + queue_ + "\",version=\""),
            std::string::npos);
  for (const char* type :
       {"# TYPE taskring_jobs_accepted_total counter", "# TYPE taskring_queue_depth gauge",
        "# TYPE taskring_job_wait_seconds histogram",
        "# TYPE taskring_outcomes_evicted_total counter",
        "# TYPE taskring_outcome_store_bytes gauge"}) {
    EXPECT_NE(text.find(type), std::string::npos) << type;
  }
}

// Cancels and the outcome store, as the endpoint and `taskring stat` report them. A 1 MiB store
// (64 KiB files) with 60 kB results: twenty of them pass the bound, so the oldest are evicted.
TEST_F(MetricsTest, CancelsAndTheOutcomeStoreAreCounted) {
  Daemon d(queue_, tmp_.path() + "/wal", {"--result-max-mb", "1"});
  ASSERT_TRUE(d.Start());
  const uint32_t port = Port();
  ASSERT_NE(port, 0u);
  std::unique_ptr<Producer> prod = test::OpenProducer(queue_);
  ASSERT_NE(prod, nullptr);
  std::unique_ptr<Worker> worker = test::OpenWorker(queue_);
  ASSERT_NE(worker, nullptr);
  JobClientOptions co;
  co.queue = queue_;
  std::unique_ptr<JobClient> client;
  ASSERT_OK(JobClient::Open(co, &client));

  uint64_t running = 0, waiting = 0;
  ASSERT_OK(prod->Enqueue("running", &running));
  Job job;
  ASSERT_OK(worker->Take(&job, 5000));
  ASSERT_EQ(job.id(), running);
  ASSERT_OK(prod->Enqueue("waiting", &waiting));
  CancelOutcome out;
  ASSERT_OK(client->Cancel(waiting, &out));
  EXPECT_EQ(out, CancelOutcome::kCancelled);  // never runs: no request to anyone
  ASSERT_OK(client->Cancel(running, &out));
  EXPECT_EQ(out, CancelOutcome::kRequested);
  ASSERT_OK(worker->Fail(job, "stopped on request"));  // ends it cancelled
  constexpr int kResults = 20;
  const std::string result(60000, 'r');
  for (int i = 0; i < kResults; ++i) {
    uint64_t id = 0;
    ASSERT_OK(prod->Enqueue("job", &id));
    ASSERT_OK(worker->Take(&job, 5000));
    ASSERT_OK(worker->Complete(job, result));
  }

  const std::string q = "{queue=\"" + queue_ + "\"}";
  constexpr double kMaxBytes = 1 << 20;
  std::string text;
  for (int i = 0; i < 500; ++i) {  // the store is trimmed to its bound once a second
    text = Scrape(port);
    if (Value(text, "taskring_outcomes_stored_total" + q) == kResults + 2 &&
        Value(text, "taskring_outcomes_evicted_total" + q) > 0 &&
        Value(text, "taskring_outcome_store_bytes" + q) <= kMaxBytes) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Value(text, "taskring_cancel_requests_total" + q), 1);
  EXPECT_EQ(Value(text, "taskring_jobs_cancelled_total" + q), 2) << "by id, and after a request";
  EXPECT_EQ(Value(text, "taskring_outcomes_stored_total" + q), kResults + 2);
  EXPECT_EQ(Value(text, "taskring_outcome_store_max_bytes" + q), kMaxBytes);
  const double bytes = Value(text, "taskring_outcome_store_bytes" + q);
  EXPECT_GT(bytes, kMaxBytes / 2);
  EXPECT_LE(bytes, kMaxBytes);
  const double records = Value(text, "taskring_outcome_store_records" + q);
  const double evicted = Value(text, "taskring_outcomes_evicted_total" + q);
  EXPECT_GT(evicted, 0);
  EXPECT_EQ(Value(text, "taskring_outcomes_expired_total" + q), 0) << "--result-ttl is 24h";
  // One record per job, none superseded: each stored record is still there or was evicted.
  EXPECT_EQ(records + evicted, kResults + 2);

  // `taskring stat` reads the same cells from the segment.
  EXPECT_EQ(test::StatsCounter(queue_, "cancel_requests"), 1u);
  EXPECT_EQ(test::StatsCounter(queue_, "cancelled"), 2u);
  EXPECT_EQ(test::StatsCounter(queue_, "outcomes_stored"), uint64_t{kResults + 2});
  EXPECT_EQ(test::StatsCounter(queue_, "outcomes_evicted"), static_cast<uint64_t>(evicted));
  EXPECT_EQ(test::StatsCounter(queue_, "outcomes_expired"), 0u);
  EXPECT_EQ(test::StatsCounter(queue_, "outcome_records"), static_cast<uint64_t>(records));
  EXPECT_EQ(test::StatsCounter(queue_, "outcome_bytes"), static_cast<uint64_t>(bytes));
}

TEST_F(MetricsTest, TakenPortIsAClearErrorAndNoMetricsTurnsTheEndpointOff) {
  Daemon first(queue_, tmp_.path() + "/wal");
  ASSERT_TRUE(first.Start());
  const uint32_t port = Port();
  ASSERT_NE(port, 0u);
  const std::string other = queue_ + "b";
  const test::CommandResult r = test::RunCommand(
      {test::BinDir() + "/taskringd", "--queue", other, "--dir", tmp_.path() + "/wal2",
       "--metrics-listen", "127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot serve metrics on 127.0.0.1:" + std::to_string(port) +
                       ": the port is already in use"),
            std::string::npos)
      << "an explicit address is not swapped for another; " << r.err;
  EXPECT_EQ(r.err.find("CivetServer"), std::string::npos) << "no library jargon: " << r.err;
  EXPECT_NE(r.err.find("--no-metrics"), std::string::npos) << "says how to get past it";
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + segment::ShmName(other)));

  const test::CommandResult bad =
      test::RunCommand({test::BinDir() + "/taskringd", "--queue", other, "--dir",
                        tmp_.path() + "/wal3", "--metrics-listen", "localhost"});
  EXPECT_EQ(bad.exit_code, 2) << "a flag error";
  EXPECT_NE(bad.err.find("HOST:PORT"), std::string::npos) << bad.err;
  segment::Segment::Remove(other);

  first.Stop();
  Daemon quiet(queue_, tmp_.path() + "/wal", {"--no-metrics"});
  ASSERT_TRUE(quiet.Start());
  EXPECT_EQ(Port(), 0u);
}

TEST_F(MetricsTest, ManyQueuesWithDefaultFlagsEachGetAnEndpoint) {
  std::vector<std::unique_ptr<Daemon>> daemons;
  std::vector<std::string> queues;
  std::set<uint32_t> ports;
  for (int i = 0; i < 3; ++i) {
    queues.push_back(queue_ + "_" + std::to_string(i));
    daemons.push_back(
        std::make_unique<Daemon>(queues.back(), tmp_.path() + "/wal" + std::to_string(i)));
    daemons.back()->UseDefaultMetricsAddress();
    ASSERT_TRUE(daemons.back()->Start()) << "port 9464 taken is no reason to refuse";
    std::unique_ptr<segment::Segment> seg;
    ASSERT_OK(segment::Segment::Attach(queues.back(), true, &seg));
    const uint32_t port = seg->header()->metrics_port.load();
    ASSERT_NE(port, 0u);
    ports.insert(port);
    EXPECT_NE(Scrape(port).find("taskring_up{queue=\"" + queues.back() + "\"} 1"),
              std::string::npos);
  }
  EXPECT_EQ(ports.size(), 3u);
  // At most one holds the default port; the others said what they did instead.
  int fell_back = 0;
  for (auto& d : daemons) fell_back += d->Log().find("using a free port") != std::string::npos;
  EXPECT_GE(fell_back, 2);
}

TEST_F(MetricsTest, TargetFileNamesTheEndpointForPrometheusDiscovery) {
  const std::string file = tmp_.path() + "/" + queue_ + ".json";
  Daemon d(queue_, tmp_.path() + "/wal", {"--metrics-sd-file", file});
  ASSERT_TRUE(d.Start());
  std::string text;
  for (int i = 0; i < 500 && text.empty(); ++i) {  // written just after the segment is ready
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (text.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(text.find("\"127.0.0.1:" + std::to_string(Port()) + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"queue\": \"" + queue_ + "\""), std::string::npos) << text;
  EXPECT_EQ(d.Stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(file)) << "a stopped queue is no target";
}

// civetweb polls its listening socket for up to 2 s between looks at its stop flag; the daemon
// used to wait that out on every exit (0.15 s with metrics off, ~2 s after a scrape). The bound
// is generous for sanitizer builds, and far below the old cost in three tries out of three.
TEST_F(MetricsTest, ExitAfterAScrapeIsPrompt) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "a wall-clock bound: plain builds only";
#endif
  for (int i = 0; i < 3; ++i) {
    Daemon d(queue_, tmp_.path() + "/wal");
    ASSERT_TRUE(d.Start());
    ASSERT_NE(Scrape(Port()).find("taskring_up"), std::string::npos);
    auto worker = test::OpenWorker(queue_);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(d.Stop(), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  }
}

}  // namespace
}  // namespace taskring
