// The web page of `taskring http` over real HTTP: a real gateway in front of a real taskringd,
// with an in-process worker making jobs run, wait, retry and die. The JSON routes the page
// reads, the pages by content negotiation, the actions with their CSRF token, --read-only, and
// bad input on the new routes.
#include <gtest/gtest.h>
#include <unistd.h>

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

using boost::beast::http::verb;
using nlohmann::json;
using test::Daemon;
using test::GatewayProcess;
using test::HttpClient;
using test::HttpReply;

json Body(const HttpReply& r) { return json::parse(r.body, nullptr, /*allow_exceptions=*/false); }

const test::Headers kBrowser = {
    {"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}};
const test::Headers kCurl = {{"Accept", "*/*"}};

class WebPageTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("web");
  test::TempDir tmp_;
  std::string Q() const { return "/queues/" + queue_; }

  ::testing::AssertionResult StartBoth(std::vector<std::string> gateway_args = {}) {
    daemon_ = std::make_unique<Daemon>(
        queue_, tmp_.path() + "/wal",
        std::vector<std::string>{"--max-attempts", "2", "--retry-backoff-ms", "60000",
                                 "--max-backoff-ms", "60000"});
    if (auto r = daemon_->Start(); !r) return r;
    std::vector<std::string> all = {"--queue", queue_, "--listen", "127.0.0.1:0"};
    all.insert(all.end(), gateway_args.begin(), gateway_args.end());
    gateway_ = std::make_unique<GatewayProcess>(all, tmp_.path() + "/gateway.log");
    if (auto r = gateway_->Start(); !r) return r;
    client_ = std::make_unique<HttpClient>(gateway_->host(), gateway_->port());
    return ::testing::AssertionSuccess();
  }
  std::string Enqueue(const std::string& payload, const test::Headers& headers = {}) {
    const HttpReply r = client_->Post(Q() + "/jobs", payload, headers);
    EXPECT_EQ(r.status, 202) << r.body << r.error;
    return r.Header("location");
  }
  Job Take() {
    if (worker_ == nullptr) worker_ = test::OpenWorker(queue_);
    Job job;
    EXPECT_TRUE(worker_ != nullptr && worker_->Take(&job, 10000).ok());
    return job;
  }
  // A job that used its only attempt: a dead letter, once the daemon filed it.
  uint64_t MakeDeadLetter(const std::string& payload, const std::string& error) {
    Enqueue(payload, {{"X-Job-Max-Attempts", "1"}, {"X-Job-Type", "mail.send"}});
    Job job = Take();
    EXPECT_TRUE(worker_->Fail(job, error).ok());
    for (int i = 0; i < 100; ++i) {
      const json d = Body(client_->Get(Q() + "/dead"));
      for (const json& l : d["letters"]) {
        if (l["id"] == job.id()) return job.id();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no dead letter for job " << job.id();
    return job.id();
  }
  // The page's CSRF token, from its <meta name="csrf-token">.
  std::string Csrf() {
    const HttpReply r = client_->Get("/", kBrowser);
    const std::string marker = "<meta name=\"csrf-token\" content=\"";
    const size_t at = r.body.find(marker);
    if (at == std::string::npos) return "";
    return r.body.substr(at + marker.size(), 32);
  }
  HttpReply Form(const std::string& target, const std::string& body,
                 const test::Headers& accept = kCurl) {
    test::Headers h = accept;
    h.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return client_->Post(target, body, h);
  }

  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<GatewayProcess> gateway_;
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<Worker> worker_;

  void TearDown() override {
    client_.reset();
    worker_.reset();
    if (gateway_ != nullptr) {
      const int code = gateway_->Stop();
      EXPECT_TRUE(code == 0 || code == -1) << "exit " << code << ": " << gateway_->Log();
    }
    gateway_.reset();
    daemon_.reset();
  }
};

TEST_F(WebPageTest, BrowsersGetPagesAndOtherClientsTheSameJson) {
  ASSERT_TRUE(StartBoth());
  const std::string job = Enqueue("hello");

  HttpReply r = client_->Get("/", kBrowser);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.Header("content-security-policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_NE(r.body.find("<table id=\"queues\">"), std::string::npos);
  EXPECT_NE(r.body.find("<tr data-queue=\"" + queue_ + "\">"), std::string::npos);
  EXPECT_NE(r.body.find("<td data-field=\"depth\">1</td>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<meta name=\"csrf-token\" content=\""), std::string::npos);

  r = client_->Get(Q(), kBrowser);
  EXPECT_EQ(r.status, 200);
  for (const char* id : {"id=\"running\"", "id=\"delayed\"", "id=\"failures\""}) {
    EXPECT_NE(r.body.find(id), std::string::npos) << id;
  }
  // curl and programs: exactly the JSON of before.
  for (const test::Headers& h :
       {kCurl, test::Headers{}, test::Headers{{"Accept", "application/json"}}}) {
    r = client_->Get(Q(), h);
    EXPECT_EQ(r.Header("content-type"), "application/json");
    EXPECT_EQ(Body(r)["depth"], 1) << r.body;
    r = client_->Get(job, h);
    EXPECT_EQ(Body(r)["state"], "queued") << r.body;
  }
  r = client_->Get(job, kBrowser);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<td id=\"job-state\">queued</td>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("id=\"job-progress\""), std::string::npos);
  EXPECT_NE(r.body.find("data-action=\"cancel\""), std::string::npos);
  r = client_->Get(Q() + "/dead", kBrowser);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<table id=\"dead\">"), std::string::npos);
}

TEST_F(WebPageTest, JsonRoutesListRunningDelayedFailuresDeadAndHistory) {
  ASSERT_TRUE(StartBoth());
  const uint64_t dead = MakeDeadLetter(std::string("bin\x00\xff<script>", 13), "boom <b>\"x\"");
  Enqueue("retry me");
  Job retrying = Take();
  ASSERT_TRUE(worker_->Fail(retrying, "try again").ok());
  Enqueue("runs");
  Job running = Take();
  ASSERT_TRUE(worker_->ReportProgress(running, 40, "half way").ok());
  const std::string delayed = Enqueue("later", {{"X-Job-Delay-Ms", "60000"}});

  HttpReply r = client_->Get("/queues");
  ASSERT_EQ(r.status, 200) << r.body;
  json all = Body(r);
  ASSERT_TRUE(all.is_array() && all.size() == 1) << r.body;
  EXPECT_EQ(all[0]["queue"], queue_);
  EXPECT_EQ(all[0]["state"], "up");
  EXPECT_EQ(all[0]["running"], 1);
  EXPECT_TRUE(all[0]["latency_ms"]["wait"].contains("p99")) << r.body;
  EXPECT_GE(all[0]["latency_ms"]["wait"]["count"].get<int>(), 3);
  EXPECT_TRUE(all[0]["latency_ms"]["wait"]["p50"].is_number());

  json rows = Body(client_->Get(Q() + "/running"));
  ASSERT_EQ(rows.size(), 1u) << rows;
  EXPECT_EQ(rows[0]["id"], running.id());
  EXPECT_EQ(rows[0]["worker_pid"], ::getpid());
  EXPECT_EQ(rows[0]["progress"]["percent"], 40);
  EXPECT_EQ(rows[0]["progress"]["message"], "half way");
  EXPECT_EQ(rows[0]["attempt"], 1);
  EXPECT_EQ(rows[0]["max_attempts"], 2);
  EXPECT_TRUE(rows[0]["running_for_ms"].is_number());
  EXPECT_EQ(rows[0]["token"].get<std::string>().size(), 40u);

  rows = Body(client_->Get(Q() + "/delayed"));
  ASSERT_EQ(rows.size(), 2u) << rows;
  bool saw_delayed = false;
  for (const json& d : rows) {
    EXPECT_GT(d["due_in_ms"].get<uint64_t>(), 10'000u) << d;  // the backoff has jitter
    if ("/queues/" + queue_ + "/jobs/" + d["token"].get<std::string>() == delayed) {
      saw_delayed = true;
      EXPECT_EQ(d["state"], "delayed");
    } else {
      EXPECT_EQ(d["state"], "retrying");
      EXPECT_EQ(d["id"], retrying.id());
    }
  }
  EXPECT_TRUE(saw_delayed) << rows;

  rows = Body(client_->Get(Q() + "/failures"));
  ASSERT_EQ(rows.size(), 2u) << rows;
  EXPECT_EQ(rows[0]["kind"], "retrying");
  EXPECT_EQ(rows[0]["id"], retrying.id());
  EXPECT_EQ(rows[0]["error"], "try again");
  EXPECT_EQ(rows[1]["kind"], "dead");
  EXPECT_EQ(rows[1]["id"], dead);
  EXPECT_EQ(rows[1]["error"], "boom <b>\"x\"");
  EXPECT_EQ(Body(client_->Get(Q() + "/failures?limit=1")).size(), 1u);

  json d = Body(client_->Get(Q() + "/dead"));
  EXPECT_EQ(d["total"], 1);
  ASSERT_EQ(d["letters"].size(), 1u);
  const json& l = d["letters"][0];
  EXPECT_EQ(l["id"], dead);
  EXPECT_EQ(l["type"], "mail.send");
  EXPECT_EQ(l["attempts"], 1);
  EXPECT_EQ(l["error"], "boom <b>\"x\"");
  EXPECT_EQ(l["payload_bytes"], 13);
  EXPECT_EQ(l["binary"], true);
  EXPECT_EQ(l["payload_preview"], "bin\\x00\\xff<script>");

  // The page shows the same rows, escaped.
  r = client_->Get(Q(), kBrowser);
  EXPECT_NE(r.body.find("<tr data-job-id=\"" + std::to_string(running.id()) + "\">"),
            std::string::npos);
  EXPECT_NE(r.body.find("boom &lt;b&gt;&quot;x&quot;"), std::string::npos);
  r = client_->Get(Q() + "/dead", kBrowser);
  EXPECT_NE(r.body.find("bin\\x00\\xff&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(r.body.find("\xff"), std::string::npos);

  // History: one sample each 2 s after the first.
  json h;
  for (int i = 0; i < 100; ++i) {
    h = Body(client_->Get(Q() + "/history"));
    if (h["samples"].size() >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(h["samples"].size(), 1u) << h;
  EXPECT_EQ(h["interval_ms"], 2000);
  EXPECT_EQ(h["samples"].back()["running"], 1);
  for (const char* k : {"t", "depth", "accepted_per_s", "completed_per_s", "failed_per_s",
                        "wait_p50_ms", "wait_p99_ms", "e2e_p50_ms", "e2e_p99_ms"}) {
    EXPECT_TRUE(h["samples"].back().contains(k)) << k;
  }
  ASSERT_TRUE(worker_->Complete(running).ok());
}

TEST_F(WebPageTest, ActionsNeedTheCsrfTokenThenRequeueRunsTheJobAndPurgeRemoves) {
  ASSERT_TRUE(StartBoth());
  const uint64_t first = MakeDeadLetter("again", "failed once");
  const uint64_t second = MakeDeadLetter("gone", "failed too");
  const std::string csrf = Csrf();
  ASSERT_EQ(csrf.size(), 32u);
  const std::string requeue = Q() + "/dead/" + std::to_string(first) + "/requeue";

  for (const std::string& body : {std::string(), std::string("csrf="),
                                  "csrf=" + std::string(32, '0'), "csrf=" + csrf.substr(0, 31)}) {
    const HttpReply r = Form(requeue, body);
    EXPECT_EQ(r.status, 403) << body;
    EXPECT_EQ(Body(r)["reason"], "bad_csrf");
  }
  EXPECT_EQ(Body(client_->Get(Q() + "/dead"))["total"], 2);

  HttpReply r = Form(requeue, "csrf=" + csrf);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["requeued"], first);
  const std::string status_url = Body(r)["status_url"];
  Job job = Take();
  EXPECT_EQ(job.payload(), "again");
  EXPECT_EQ(job.type(), "mail.send");
  ASSERT_TRUE(worker_->Complete(job).ok());
  EXPECT_EQ(Body(client_->Get(status_url + "?wait=10"))["state"], "completed");

  // A browser's form: 303 back to the page; the header works too.
  r = Form(Q() + "/dead/" + std::to_string(second) + "/purge", "csrf=" + csrf, kBrowser);
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.Header("location"), Q() + "/dead");
  EXPECT_EQ(Body(client_->Get(Q() + "/dead"))["total"], 0);
  r = client_->Post(Q() + "/dead/purge", "", {{"X-CSRF-Token", csrf}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["purged"], 0);

  // Requeue all, then purge all.
  MakeDeadLetter("a", "x");
  MakeDeadLetter("b", "x");
  r = client_->Post(Q() + "/dead/requeue", "", {{"X-CSRF-Token", csrf}});
  EXPECT_EQ(Body(r)["requeued"], 2) << r.body;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(worker_->Complete(Take()).ok());
  MakeDeadLetter("c", "x");
  r = client_->Post(Q() + "/dead/purge", "", {{"X-CSRF-Token", csrf}});
  EXPECT_EQ(Body(r)["purged"], 1) << r.body;

  // Cancel by form.
  const std::string queued = Enqueue("never");
  r = Form(queued + "/cancel", "csrf=" + csrf);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["outcome"], "cancelled");
  EXPECT_EQ(Form(queued + "/cancel", "").status, 403);
  // The Origin check still applies to the actions.
  test::Headers foreign = {{"Origin", "http://evil.example"}, {"X-CSRF-Token", csrf}};
  EXPECT_EQ(client_->Post(Q() + "/dead/purge", "", foreign).status, 403);
}

TEST_F(WebPageTest, ReadOnlyRefusesEveryChangeAndDisablesTheButtons) {
  ASSERT_TRUE(StartBoth({"--read-only"}));
  const std::string csrf = Csrf();
  HttpReply r = client_->Post(Q() + "/jobs", "x");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Body(r)["reason"], "read_only");
  r = client_->Delete(Q() + "/jobs/" + std::string(40, 'a'));
  EXPECT_EQ(Body(r)["reason"], "read_only");
  for (const std::string& t :
       {Q() + "/dead/requeue", Q() + "/dead/purge", Q() + "/dead/1/requeue", Q() + "/dead/1/purge",
        Q() + "/jobs/" + std::string(40, 'a') + "/cancel"}) {
    r = Form(t, "csrf=" + csrf);
    EXPECT_EQ(r.status, 403) << t;
    EXPECT_EQ(Body(r)["reason"], "read_only") << t;
  }
  r = client_->Get(Q() + "/dead", kBrowser);
  EXPECT_NE(r.body.find("data-action=\"purge-all\" disabled title=\"read-only"), std::string::npos)
      << r.body;
  EXPECT_EQ(client_->Get("/queues").status, 200);
}

TEST_F(WebPageTest, LoginFormSetsACookieTheGuardAcceptsLikeTheBearerToken) {
  const std::string token_file = tmp_.path() + "/token";
  std::ofstream(token_file) << "s3cret;token,0123456789\n";  // any visible character
  ASSERT_TRUE(StartBoth({"--token-file", token_file}));
  HttpReply r = client_->Get("/", kBrowser);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("<form id=\"login\" method=\"post\" action=\"/login\">"), std::string::npos)
      << r.body;
  // Nobody gets the CSRF token before logging in.
  EXPECT_NE(r.body.find("<meta name=\"csrf-token\" content=\"\">"), std::string::npos);
  EXPECT_EQ(Body(client_->Get("/queues"))["reason"], "unauthorized");  // JSON stays JSON

  r = Form("/login", "token=wrong", kBrowser);
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(r.Header("set-cookie").empty());
  r = Form("/login", "token=s3cret%3Btoken%2C0123456789", kBrowser);
  ASSERT_EQ(r.status, 303) << r.body;
  EXPECT_EQ(r.Header("location"), "/");
  const std::string cookie = r.Header("set-cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  const std::string pair = cookie.substr(0, cookie.find(';'));

  r = client_->Get("/", {{"Accept", kBrowser[0].second}, {"Cookie", "a=b; " + pair}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<table id=\"queues\">"), std::string::npos);
  EXPECT_EQ(client_->Get("/queues", {{"Cookie", pair}}).status, 200);
  EXPECT_EQ(client_->Get("/queues", {{"Cookie", pair + "0"}}).status, 401);
  EXPECT_EQ(client_->Get("/queues", {{"Authorization", "Bearer s3cret;token,0123456789"}}).status,
            200);
}

TEST_F(WebPageTest, BadInputOnTheNewRoutesIs4xxNeverACrash) {
  ASSERT_TRUE(StartBoth());
  const std::string csrf = Csrf();
  struct Case {
    verb method;
    std::string target;
    int status;
  };
  const std::string token(40, 'f');
  const std::vector<Case> cases = {
      {verb::get, Q() + "/dead/1/requeue", 405},
      {verb::delete_, Q() + "/dead/purge", 405},
      {verb::post, Q() + "/running", 405},
      {verb::post, "/", 405},
      {verb::put, "/queues", 405},
      {verb::get, Q() + "/jobs/" + token + "/cancel", 405},
      {verb::post, Q() + "/dead/abc/requeue", 404},
      {verb::post, Q() + "/dead/0/purge", 404},
      {verb::post, Q() + "/dead/-1/purge", 404},
      {verb::post, Q() + "/dead/99999999999999999999999/purge", 404},
      {verb::post, Q() + "/dead/12345/requeue", 404},
      {verb::post, Q() + "/dead/12345/purge", 404},
      {verb::post, Q() + "/jobs/" + token + "/cancel", 404},
      {verb::post, Q() + "/jobs/zz/cancel", 404},
      {verb::get, "/queues/no-such-queue/running", 404},
      {verb::get, "/queues/no-such-queue/dead", 404},
      {verb::get, "/queues/no-such-queue/history", 404},
      {verb::get, "/queues/..%2f/running", 404},
      {verb::get, "/queues/" + std::string(300, 'q') + "/delayed", 404},
      {verb::get, Q() + "/running?limit=100000", 400},
      {verb::get, Q() + "/running?limit=0", 400},
      {verb::get, Q() + "/delayed?limit=-3", 400},
      {verb::get, Q() + "/failures?limit=1e9", 400},
      {verb::get, Q() + "/dead?limit=", 400},
      {verb::get, Q() + "/dead?x=1", 400},
      {verb::get, Q() + "/history?limit=301", 400},
      {verb::get, Q() + "/history?limit=%zz", 400},
      {verb::get, "/queues?limit=1", 400},
      {verb::get, Q() + "/dead/", 404},
      {verb::get, Q() + "/running/x", 404},
  };
  for (const Case& c : cases) {
    const HttpReply r = client_->Send(c.method, c.target, "csrf=" + csrf,
                                      {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(r.status, c.status) << c.target << " " << r.body;
  }
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

}  // namespace
}  // namespace taskring
