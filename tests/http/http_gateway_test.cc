// `taskring http` over real HTTP: a real gateway process in front of a real taskringd, with a
// worker (the library's, in this process) running the jobs. The contract of docs/http.md, its
// failure cases, and its defences (limits, timeouts, Host/Origin, bearer token).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http/http_test_util.h"
#include "taskring/job.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

using nlohmann::json;
using test::Daemon;
using test::GatewayProcess;
using test::HttpClient;
using test::HttpReply;
using test::RawSocket;

json Body(const HttpReply& r) { return json::parse(r.body, nullptr, /*allow_exceptions=*/false); }

class HttpGatewayTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("http");
  test::TempDir tmp_;
  std::string wal() const { return tmp_.path() + "/wal"; }
  std::string jobs() const { return "/queues/" + queue_ + "/jobs"; }

  // A daemon for queue_ and a gateway serving it on a free loopback port.
  ::testing::AssertionResult StartBoth(std::vector<std::string> daemon_args = {},
                                       std::vector<std::string> gateway_args = {}) {
    daemon_ = std::make_unique<Daemon>(queue_, wal(), std::move(daemon_args));
    if (auto r = daemon_->Start(); !r) return r;
    return StartGateway(std::move(gateway_args));
  }
  // `list_queue`: pass --queue queue_ (else the gateway serves any queue on the host).
  ::testing::AssertionResult StartGateway(std::vector<std::string> args, bool list_queue = true) {
    std::vector<std::string> all;
    if (list_queue) all = {"--queue", queue_};
    bool listen_given = false;
    for (const std::string& a : args) listen_given = listen_given || a == "--listen";
    if (!listen_given) all.insert(all.end(), {"--listen", "127.0.0.1:0"});
    all.insert(all.end(), args.begin(), args.end());
    gateway_ = std::make_unique<GatewayProcess>(all, tmp_.path() + "/gateway.log");
    if (auto r = gateway_->Start(); !r) return r;
    client_ = std::make_unique<HttpClient>(gateway_->host(), gateway_->port());
    return ::testing::AssertionSuccess();
  }
  std::string HostPort() const { return gateway_->host() + ":" + std::to_string(gateway_->port()); }
  // POSTs `payload` and expects 202: the job's path (Location).
  std::string Enqueue(const std::string& payload, const test::Headers& headers = {}) {
    const HttpReply r = client_->Post(jobs(), payload, headers);
    EXPECT_EQ(r.status, 202) << r.body << r.error;
    return r.Header("location");
  }
  // Takes one job with an in-process worker.
  std::unique_ptr<Worker> worker_;
  Job Take() {
    if (worker_ == nullptr) worker_ = test::OpenWorker(queue_);
    Job job;
    EXPECT_TRUE(worker_ != nullptr && worker_->Take(&job, 10000).ok());
    return job;
  }

  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<GatewayProcess> gateway_;  // destroyed before the daemon
  std::unique_ptr<HttpClient> client_;

  void TearDown() override {
    client_.reset();
    worker_.reset();
    if (gateway_ != nullptr) {
      // Every gateway ends cleanly on SIGTERM (and, in sanitizer builds, with nothing to report).
      const int code = gateway_->Stop();
      EXPECT_TRUE(code == 0 || code == -1) << "exit " << code << ": " << gateway_->Log();
    }
    gateway_.reset();
    daemon_.reset();
  }
};

TEST_F(HttpGatewayTest, PostAnswers202ThenPollShowsProgressThen303ToTheResult) {
  ASSERT_TRUE(StartBoth());
  HttpReply r = client_->Post(jobs() + "?priority=8&type=report&header.tenant=acme",
                              "make report 17", {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string location = r.Header("location");
  json j = Body(r);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(location.rfind(jobs() + "/", 0), 0u) << location;
  EXPECT_EQ(location.size(), jobs().size() + 1 + JobToken::kChars) << location;
  EXPECT_EQ(j["status_url"], location);
  EXPECT_GT(j["id"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["state"], "queued");

  r = client_->Get(location);
  ASSERT_EQ(r.status, 200) << r.body;
  j = Body(r);
  EXPECT_EQ(j["state"], "queued");
  EXPECT_EQ(j["priority"], 8);
  EXPECT_EQ(j["type"], "report");
  EXPECT_EQ(j["headers"]["tenant"], "acme");
  EXPECT_TRUE(j["progress"].is_null());

  // A worker takes it, reports progress, and waits for the test before completing.
  Job job = Take();
  EXPECT_EQ(job.payload(), "make report 17");
  ASSERT_TRUE(worker_->ReportProgress(job, 40, "parsing").ok());
  r = client_->Get(location);
  ASSERT_EQ(r.status, 200) << r.body;
  j = Body(r);
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["attempt"], 1);
  EXPECT_EQ(j["progress"]["percent"], 40);
  EXPECT_EQ(j["progress"]["message"], "parsing");
  EXPECT_FALSE(j["started_at"].is_null());

  // A long poll started before the job ends answers once it does.
  std::thread completer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(worker_->Complete(job, std::string("report\0bytes", 12)).ok());
  });
  r = client_->Get(location + "?wait=20");
  completer.join();
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.Header("location"), location + "/result");
  j = Body(r);
  EXPECT_EQ(j["state"], "completed");
  EXPECT_EQ(j["result_bytes"], 12);

  r = client_->Get(location + "/result");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/octet-stream");
  EXPECT_EQ(r.body, std::string("report\0bytes", 12));
  EXPECT_EQ(client_->connections(), 1) << "keep-alive: every request on one connection";
  EXPECT_EQ(gateway_->Stop(), 0) << "SIGTERM: a clean exit " << gateway_->Log();
}

TEST_F(HttpGatewayTest, ResultIs404UntilThereIsOneAndWaitTimesOutWithTheStatus) {
  ASSERT_TRUE(StartBoth());
  const std::string location = Enqueue("x");
  HttpReply r = client_->Get(location + "/result");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Body(r)["reason"], "no_result");
  r = client_->Get(location + "?wait=1");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["state"], "queued");
  r = client_->Get(location + "?wait=forever");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(HttpGatewayTest, GatewayKilledMidEnqueueThenARetryWithTheKeyMakesExactlyOneJob) {
  ASSERT_TRUE(StartBoth());
  // A frozen daemon holds the enqueue inside the gateway, waiting for its commit.
  ASSERT_EQ(::kill(daemon_->pid(), SIGSTOP), 0);
  std::thread poster([host = gateway_->host(), port = gateway_->port(), path = jobs()] {
    HttpClient c(host, port);
    const HttpReply r = c.Post(path, "exactly once", {{"Idempotency-Key", "order-42"}});
    EXPECT_EQ(r.status, -1) << "the gateway died before answering: " << r.body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it reach the daemon
  gateway_->Kill();
  poster.join();
  ASSERT_EQ(::kill(daemon_->pid(), SIGCONT), 0);

  // The client got no answer; it retries with its key through a new gateway.
  ASSERT_TRUE(StartGateway({}));
  const HttpReply r = client_->Post(jobs(), "exactly once", {{"Idempotency-Key", "order-42"}});
  ASSERT_EQ(r.status, 202) << r.body;
  const HttpReply again = client_->Post(jobs(), "exactly once", {{"Idempotency-Key", "order-42"}});
  EXPECT_EQ(again.Header("location"), r.Header("location"));
  Job job = Take();
  EXPECT_EQ(job.payload(), "exactly once");
  EXPECT_EQ(job.id(), Body(r)["id"].get<uint64_t>());
  ASSERT_TRUE(worker_->Complete(job).ok());
  Job none;
  EXPECT_TRUE(worker_->Take(&none, 300).IsTimedOut()) << "a second job " << none.id();
}

TEST_F(HttpGatewayTest, EnqueuesBeyondThePoolsBoundAre503GatewayBusy) {
  ASSERT_TRUE(StartBoth({}, {"--producers", "1", "--max-pending", "1"}));
  Enqueue("attach first");  // the producer thread is open
  // Frozen daemon: one enqueue waits in the producer thread, one in the FIFO; a third has no room.
  ASSERT_EQ(::kill(daemon_->pid(), SIGSTOP), 0);
  std::vector<std::thread> waiting;
  std::atomic<int> accepted{0};
  for (const char* payload : {"in the thread", "in the fifo"}) {
    waiting.emplace_back([&, payload] {
      HttpClient c(gateway_->host(), gateway_->port());
      accepted += c.Post(jobs(), payload).status == 202;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let it take its place
  }
  const HttpReply r = client_->Post(jobs(), "no room");
  ::kill(daemon_->pid(), SIGCONT);
  for (std::thread& t : waiting) t.join();
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Body(r)["reason"], "gateway_busy") << r.body;
  EXPECT_EQ(r.Header("retry-after"), "1");
  EXPECT_EQ(accepted.load(), 2) << "the waiting ones were answered once the daemon went on";
  const HttpReply q = client_->Get("/queues/" + queue_);
  EXPECT_EQ(Body(q)["depth"], 3) << q.body;
}

TEST_F(HttpGatewayTest, FullQueueAnswers503WithRetryAfter) {
  ASSERT_TRUE(StartBoth({"--capacity", "2"}));
  Enqueue("a");
  Enqueue("b");
  const HttpReply r = client_->Post(jobs(), "c");
  ASSERT_EQ(r.status, 503) << r.body;
  const std::string retry_after = r.Header("retry-after");
  ASSERT_FALSE(retry_after.empty());
  EXPECT_GE(std::stoi(retry_after), 1);
  EXPECT_EQ(Body(r)["reason"], "queue_full");
  EXPECT_FALSE(r.closed) << "a 503 keeps the connection";
}

TEST_F(HttpGatewayTest, IdempotentRepeatReturnsTheSameIdAndLocation) {
  ASSERT_TRUE(StartBoth());
  HttpReply first = client_->Post(jobs(), "charge", {{"Idempotency-Key", "order-17"}});
  HttpReply again = client_->Post(jobs(), "charge", {{"Idempotency-Key", "order-17"}});
  ASSERT_EQ(first.status, 202) << first.body;
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(Body(first)["id"], Body(again)["id"]);
  EXPECT_EQ(first.Header("location"), again.Header("location"));
  EXPECT_EQ(Body(first)["duplicate"], false);
  EXPECT_EQ(Body(again)["duplicate"], true);
  const HttpReply other = client_->Post(jobs(), "charge", {{"Idempotency-Key", "order-18"}});
  EXPECT_NE(Body(other)["id"], Body(first)["id"]);
}

TEST_F(HttpGatewayTest, TooLargeIs413UnknownIs404AndWrongTokensAre404) {
  ASSERT_TRUE(StartBoth({"--max-payload", "64"}));
  HttpReply r = client_->Post(jobs(), std::string(65, 'x'));
  EXPECT_EQ(r.status, 413) << r.body;
  r = client_->Post(jobs(), std::string(64, 'x'));
  EXPECT_EQ(r.status, 202) << r.body;
  // The payload and the job's headers share the slot.
  r = client_->Post(jobs() + "?header.k=" + std::string(40, 'v'), std::string(60, 'x'));
  EXPECT_EQ(r.status, 413) << r.body;

  r = client_->Post("/queues/no_such_queue/jobs", "x");
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Get("/queues/no_such_queue");
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Get("/nothing/here");
  EXPECT_EQ(r.status, 404) << r.body;

  const std::string location = Enqueue("y");
  const std::string token = location.substr(location.rfind('/') + 1);
  std::string forged = token;
  forged.back() = forged.back() == '0' ? '1' : '0';  // same id, another secret
  r = client_->Get(jobs() + "/" + forged);
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Delete(jobs() + "/" + forged);
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Get(jobs() + "/" + forged + "/result");
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Get(jobs() + "/not-a-token");
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Get(jobs() + "/" + std::string(40, 'f'));
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Get(location);
  EXPECT_EQ(r.status, 200) << r.body;

  r = client_->Send(boost::beast::http::verb::put, jobs(), "x");
  EXPECT_EQ(r.status, 405) << r.body;
  r = client_->Post(jobs() + "?priority=12", "x");
  EXPECT_EQ(r.status, 400) << r.body;
  r = client_->Post(jobs() + "?colour=blue", "x");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(HttpGatewayTest, FinishedJobPastTheResultTtlIs410) {
  ASSERT_TRUE(StartBoth({"--result-ttl", "1s"}));
  const std::string location = Enqueue("x");
  Job job = Take();
  ASSERT_TRUE(worker_->Complete(job, "r").ok());
  HttpReply r = client_->Get(location + "?wait=10");
  ASSERT_EQ(r.status, 303) << r.body;
  for (int i = 0; i < 100 && r.status != 410; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = client_->Get(location);
  }
  EXPECT_EQ(r.status, 410) << r.body;
  EXPECT_EQ(Body(r)["reason"], "expired");
  r = client_->Get(location + "/result");
  EXPECT_EQ(r.status, 410) << r.body;
}

TEST_F(HttpGatewayTest, DeleteCancelsQueuedRequestsRunningAndRefusesFinished) {
  ASSERT_TRUE(StartBoth());
  const std::string running = Enqueue("runs");
  Job job = Take();
  const std::string queued = Enqueue("waits");

  HttpReply r = client_->Delete(queued);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["outcome"], "cancelled");
  r = client_->Get(queued);
  EXPECT_EQ(Body(r)["state"], "cancelled");
  r = client_->Delete(queued);
  EXPECT_EQ(r.status, 409) << r.body;

  r = client_->Delete(running);
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Body(r)["outcome"], "requested");
  EXPECT_TRUE(job.cancel_requested());
  ASSERT_TRUE(worker_->Fail(job, "stopped on request").ok());
  r = client_->Get(running + "?wait=10");
  EXPECT_EQ(Body(r)["state"], "cancelled") << r.body;
  r = client_->Delete(running);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(gateway_->Stop(), 0) << "SIGTERM: a clean exit " << gateway_->Log();
}

TEST_F(HttpGatewayTest, MalformedRequestsAre400AndOversizedHeadersAre431) {
  ASSERT_TRUE(StartBoth({}, {"--max-header-bytes", "2048"}));
  {
    RawSocket s(gateway_->host(), gateway_->port());
    ASSERT_TRUE(s.Send("THIS IS NOT HTTP\r\n\r\n"));
    bool closed = false;
    const std::string out = s.ReadAll(5000, &closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_TRUE(closed);
  }
  {
    RawSocket s(gateway_->host(), gateway_->port());
    ASSERT_TRUE(s.Send("GET /healthz HTTP/1.1\r\nHost: " + HostPort() +
                       "\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n"));
    bool closed = false;
    const std::string out = s.ReadAll(5000, &closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out;
    EXPECT_TRUE(closed);
  }
  HttpReply r = client_->Get(jobs() + "/x?wait=%zz");
  EXPECT_EQ(r.status, 400) << r.body;
  r = client_->Get("/healthz", {{"Host", ""}});
  EXPECT_EQ(r.status, 403) << "no Host names no gateway: " << r.body;
  r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200) << "the gateway still serves: " << r.body;
}

TEST_F(HttpGatewayTest, ChunkedBodiesContinueAndPipelinedRequestsWork) {
  ASSERT_TRUE(StartBoth({"--max-payload", "64"}));
  const std::string head = "POST " + jobs() + " HTTP/1.1\r\nHost: " + HostPort() + "\r\n";
  RawSocket s(gateway_->host(), gateway_->port());
  // A chunked body within the queue's bound is a job.
  ASSERT_TRUE(s.Send(head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  std::string out = s.ReadUntil("\r\n\r\n", 1);
  EXPECT_EQ(out.rfind("HTTP/1.1 202", 0), 0u) << out;
  // Expect: 100-continue gets its interim answer before the body is sent.
  RawSocket c(gateway_->host(), gateway_->port());
  ASSERT_TRUE(c.Send(head + "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  out = c.ReadUntil("\r\n\r\n", 1);
  EXPECT_EQ(out.rfind("HTTP/1.1 100 Continue", 0), 0u) << out;
  ASSERT_TRUE(c.Send("world"));
  out = c.ReadUntil("\r\n\r\n", 1);
  EXPECT_EQ(out.rfind("HTTP/1.1 202", 0), 0u) << out;
  // Two requests in one write: two answers, in order.
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: " + HostPort() + "\r\n\r\n";
  ASSERT_TRUE(c.Send(get + get));
  out = c.ReadUntil("HTTP/1.1 200", 2);
  EXPECT_NE(out.find("HTTP/1.1 200", out.find("HTTP/1.1 200") + 1), std::string::npos) << out;
  // A chunked body over the bound is refused as it arrives, and the connection closed.
  RawSocket big(gateway_->host(), gateway_->port());
  ASSERT_TRUE(big.Send(head + "Transfer-Encoding: chunked\r\n\r\n64\r\n" + std::string(100, 'x') +
                       "\r\n0\r\n\r\n"));
  bool closed = false;
  out = big.ReadAll(5000, &closed);
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
  EXPECT_TRUE(closed);
  const HttpReply r = client_->Get("/queues/" + queue_);
  EXPECT_EQ(Body(r)["depth"], 2) << r.body;
}

TEST_F(HttpGatewayTest, SlowClientIsClosedWhileOthersAreServed) {
  ASSERT_TRUE(StartBoth({}, {"--header-timeout-ms", "300", "--body-timeout-ms", "300"}));
  RawSocket slow(gateway_->host(), gateway_->port());
  ASSERT_TRUE(slow.Send("GET /healthz HTTP/1.1\r\nHost: "));  // ... and never finishes
  RawSocket slow_body(gateway_->host(), gateway_->port());
  ASSERT_TRUE(slow_body.Send("POST " + jobs() + " HTTP/1.1\r\nHost: " + HostPort() +
                             "\r\nContent-Length: 100\r\n\r\nonly part"));
  HttpReply r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
  bool closed = false;
  std::string out = slow.ReadAll(10000, &closed);
  EXPECT_TRUE(closed) << "a client that never completes its headers is dropped";
  EXPECT_TRUE(out.empty()) << out;
  out = slow_body.ReadAll(10000, &closed);
  EXPECT_TRUE(closed) << "a client that never completes its body is dropped";
  r = client_->Post(jobs(), "still served");
  EXPECT_EQ(r.status, 202) << r.body;
  r = client_->Get("/queues/" + queue_);
  EXPECT_EQ(Body(r)["depth"], 1) << "the half-sent body was never enqueued: " << r.body;
}

TEST_F(HttpGatewayTest, ClientDisconnectingMidBodyDoesNotHurtOthers) {
  ASSERT_TRUE(StartBoth());
  for (int i = 0; i < 5; ++i) {
    RawSocket s(gateway_->host(), gateway_->port());
    ASSERT_TRUE(s.Send("POST " + jobs() + " HTTP/1.1\r\nHost: " + HostPort() +
                       "\r\nContent-Length: 1000\r\n\r\n" + std::string(10, 'x')));
    s.Close();
  }
  const HttpReply r = client_->Post(jobs(), "whole");
  EXPECT_EQ(r.status, 202) << r.body;
  const HttpReply q = client_->Get("/queues/" + queue_);
  EXPECT_EQ(Body(q)["depth"], 1) << q.body;
}

TEST_F(HttpGatewayTest, ForeignHostOrOriginIs403) {
  ASSERT_TRUE(StartBoth());
  const std::string port = std::to_string(gateway_->port());
  HttpReply r = client_->Post(jobs(), "x", {{"Host", "evil.example:" + port}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Body(r)["reason"], "bad_host");
  r = client_->Get("/healthz", {{"Host", "127.0.0.1:1"}});
  EXPECT_EQ(r.status, 403) << "another port is another origin";
  r = client_->Get("/healthz", {{"Host", "localhost:" + port}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = client_->Post(jobs(), "x", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Body(r)["reason"], "bad_origin");
  r = client_->Post(jobs(), "x", {{"Origin", "null"}});
  EXPECT_EQ(r.status, 403) << r.body;
  r = client_->Post(jobs(), "x", {{"Origin", "http://127.0.0.1:" + port}});
  EXPECT_EQ(r.status, 202) << r.body;
  r = client_->Get("/queues/" + queue_);
  EXPECT_EQ(Body(r)["depth"], 1) << "refused posts enqueued nothing";
}

TEST_F(HttpGatewayTest, BearerTokenIsCheckedAndRequiredOffLoopback) {
  const std::string token_file = tmp_.path() + "/token";
  std::ofstream(token_file) << "s3cret-token-0123456789\n";
  ASSERT_TRUE(StartBoth({}, {"--token-file", token_file}));
  HttpReply r = client_->Post(jobs(), "x");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.Header("www-authenticate"), "Bearer");
  r = client_->Post(jobs(), "x", {{"Authorization", "Bearer s3cret-token-012345678"}});
  EXPECT_EQ(r.status, 401) << r.body;
  r = client_->Post(jobs(), "x", {{"Authorization", "Bearer s3cret-token-0123456789"}});
  EXPECT_EQ(r.status, 202) << r.body;

  // Any other address than loopback needs a token: refused before it binds anything.
  test::CommandResult c =
      test::RunCommand({test::BinDir() + "/taskring", "http", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(c.exit_code, 2);
  EXPECT_NE(c.err.find("--token-file"), std::string::npos) << c.err;
  c = test::RunCommand({test::BinDir() + "/taskring", "http", "--listen", "localhost:0"});
  EXPECT_EQ(c.exit_code, 2) << "names are not resolved";
  const std::string empty_token = tmp_.path() + "/empty";
  std::ofstream(empty_token) << "\n";
  c = test::RunCommand(
      {test::BinDir() + "/taskring", "http", "--listen", "0.0.0.0:0", "--token-file", empty_token});
  EXPECT_EQ(c.exit_code, 2) << c.err;
}

TEST_F(HttpGatewayTest, AllOf127Slash8IsLoopbackAndItsOwnHostOnly) {
  daemon_ = std::make_unique<Daemon>(queue_, wal());
  ASSERT_TRUE(daemon_->Start());
  ASSERT_TRUE(StartGateway({"--listen", "127.0.0.2:0"}));
  EXPECT_EQ(gateway_->host(), "127.0.0.2");
  HttpReply r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
  r = client_->Get("/healthz", {{"Host", "localhost:" + std::to_string(gateway_->port())}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(HttpGatewayTest, ConnectionsOverTheBoundAreAnswered503AndClosed) {
  ASSERT_TRUE(StartBoth({}, {"--max-connections", "2"}));
  HttpClient a(gateway_->host(), gateway_->port()), b(gateway_->host(), gateway_->port());
  ASSERT_EQ(a.Get("/healthz").status, 200);
  ASSERT_EQ(b.Get("/healthz").status, 200);
  RawSocket third(gateway_->host(), gateway_->port());
  bool closed = false;
  const std::string out = third.ReadAll(5000, &closed);
  EXPECT_EQ(out.rfind("HTTP/1.1 503", 0), 0u) << out;
  EXPECT_TRUE(closed);
  EXPECT_EQ(a.Get("/healthz").status, 200) << "the open ones are still served";
}

TEST_F(HttpGatewayTest, WithoutAQueueListItServesAnyQueueOnTheHostFromManyConnections) {
  daemon_ = std::make_unique<Daemon>(queue_, wal());
  ASSERT_TRUE(daemon_->Start());
  ASSERT_TRUE(StartGateway({"--io-threads", "2", "--producers", "3"}, /*list_queue=*/false));
  HttpReply r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r)["queues"].empty()) << "nothing served yet: " << r.body;
  r = client_->Post("/queues/" + test::UniqueQueueName("absent") + "/jobs", "x");
  EXPECT_EQ(r.status, 404) << r.body;
  r = client_->Post("/queues/..hidden/jobs", "x");
  EXPECT_EQ(r.status, 404) << r.body;

  // Many connections enqueue at once: every job is accepted once.
  constexpr int kClients = 6, kJobsEach = 10;
  std::vector<std::thread> clients;
  std::atomic<int> accepted{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient mine(gateway_->host(), gateway_->port());
      for (int i = 0; i < kJobsEach; ++i) {
        const HttpReply p = mine.Post(jobs(), std::to_string(c) + "/" + std::to_string(i));
        accepted += p.status == 202;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(accepted.load(), kClients * kJobsEach);
  r = client_->Get("/queues/" + queue_);
  EXPECT_EQ(Body(r)["depth"], kClients * kJobsEach) << r.body;
  r = client_->Get("/healthz");
  EXPECT_EQ(Body(r)["queues"][queue_], "ok") << r.body;
}

TEST_F(HttpGatewayTest, QueueStatsHealthAndMetrics) {
  ASSERT_TRUE(StartBoth({"--capacity", "8"}));
  Enqueue("a");
  HttpReply r = client_->Get("/queues/" + queue_);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  EXPECT_EQ(j["depth"], 1);
  EXPECT_EQ(j["capacity"], 8);
  EXPECT_TRUE(j.contains("outstanding"));
  EXPECT_EQ(j["up"], true);
  EXPECT_TRUE(j.contains("rates_per_s"));

  r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["queues"][queue_], "ok");

  r = client_->Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("taskring_http_requests_total{code=\"202\",queue=\"" + queue_ +
                        "\",route=\"enqueue\"} 1"),
            std::string::npos)
      << r.body;
  // A made-up queue name in a URL is a 404 that adds no series of its own.
  EXPECT_EQ(client_->Post("/queues/no-such-queue-xyz/jobs", "x").status, 404);
  r = client_->Get("/metrics");
  EXPECT_EQ(r.body.find("no-such-queue-xyz"), std::string::npos) << r.body;
  EXPECT_NE(
      r.body.find("taskring_http_requests_total{code=\"404\",queue=\"\",route=\"enqueue\"} 1"),
      std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("taskring_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(r.body.find("taskring_http_open_connections 1"), std::string::npos) << r.body;

  // The daemon stops: its queue is unavailable, and health says why.
  daemon_->Stop();
  r = client_->Post(jobs(), "x");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Body(r)["reason"], "daemon_gone") << r.body;
  r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 503) << r.body;
  // ... and comes back: served again without restarting the gateway.
  ASSERT_TRUE(daemon_->Start());
  r = client_->Post(jobs(), "back");
  EXPECT_EQ(r.status, 202) << r.body;
  r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace taskring
