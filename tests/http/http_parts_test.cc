// The gateway's pure pieces, without sockets: parsing the listen address, the URL space and a
// POST's job options, and the Host / Origin / bearer-token checks.
#include <gtest/gtest.h>

#include "http/enqueue_params.h"
#include "http/listen_address.h"
#include "http/request_guard.h"
#include "http/route.h"

namespace taskring::http {
namespace {

TEST(ListenAddressTest, LoopbackIsAllOf127Slash8AndV6Loopback) {
  ListenAddress a;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:8080", &a).ok());
  EXPECT_TRUE(a.loopback);
  EXPECT_EQ(a.port, 8080);
  ASSERT_TRUE(ParseListenAddress("127.3.2.1:0", &a).ok());
  EXPECT_TRUE(a.loopback);
  ASSERT_TRUE(ParseListenAddress("[::1]:80", &a).ok());
  EXPECT_TRUE(a.loopback && a.ipv6);
  EXPECT_EQ(HostPort(a, 81), "[::1]:81");
  ASSERT_TRUE(ParseListenAddress("0.0.0.0:80", &a).ok());
  EXPECT_FALSE(a.loopback);
  EXPECT_TRUE(a.unspecified);
  ASSERT_TRUE(ParseListenAddress("10.1.2.3:80", &a).ok());
  EXPECT_FALSE(a.loopback);
}

TEST(ListenAddressTest, NamesAndMalformedAddressesAreRefused) {
  ListenAddress a;
  for (const char* bad : {"localhost:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                          "127.0.0.1:8x", "::1:80", "[::1]80", ":80", ""}) {
    EXPECT_TRUE(ParseListenAddress(bad, &a).IsInvalidArgument()) << bad;
  }
}

TEST(RouteTest, PathsNameTheirResources) {
  Route r;
  std::string err;
  ASSERT_TRUE(ParseTarget("/queues/q1/jobs", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kJobs);
  EXPECT_EQ(r.queue, "q1");
  ASSERT_TRUE(ParseTarget("/queues/q1/jobs/abc?wait=5", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kJob);
  EXPECT_EQ(r.token, "abc");
  ASSERT_EQ(r.query.size(), 1u);
  EXPECT_EQ(*FindParam(r.query, "wait"), "5");
  ASSERT_TRUE(ParseTarget("/queues/q1/jobs/abc/result", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kJobResult);
  ASSERT_TRUE(ParseTarget("/queues/q1", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kQueue);
  ASSERT_TRUE(ParseTarget("/healthz", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kHealth);
  // "/" and "/queues" name the web page and the queue list now (web_page_parts_test).
  for (const char* none :
       {"", "/queues/", "/queues/q/jobs/", "/queues/q/x", "/queues/q/jobs/t/result/x",
        "/queues/q%31/jobs", "//queues/q", "/queues/q/jobs/t/other", "*"}) {
    ASSERT_TRUE(ParseTarget(none, &r, &err)) << none;
    EXPECT_EQ(r.kind, RouteKind::kNotFound) << none;
  }
}

TEST(RouteTest, QueryIsDecodedAndMalformedEscapesAreErrors) {
  Route r;
  std::string err;
  ASSERT_TRUE(ParseTarget("/queues/q/jobs?type=a%2Eb&header.k=x+y&flag", &r, &err));
  EXPECT_EQ(*FindParam(r.query, "type"), "a.b");
  EXPECT_EQ(*FindParam(r.query, "header.k"), "x y");
  EXPECT_EQ(*FindParam(r.query, "flag"), "");
  for (const char* bad : {"/x?a=%", "/x?a=%4", "/x?a=%zz", "/x?%g0=1"}) {
    EXPECT_FALSE(ParseTarget(bad, &r, &err)) << bad;
  }
  std::string many = "/x?";
  for (size_t i = 0; i <= kMaxQueryParams; ++i) many += "a=1&";
  EXPECT_FALSE(ParseTarget(many, &r, &err));
}

TEST(EnqueueParamsTest, QueryAndHeadersSetTheJobOptions) {
  EnqueueOptions o;
  std::string err;
  ASSERT_TRUE(ParseEnqueueParams({{"priority", "8"}, {"type", "report"}, {"header.trace", "t1"}},
                                 {{"x-job-max-attempts", "2"},
                                  {"X-Job-Timeout-Ms", "5000"},
                                  {"X-Job-Delay-Ms", "100"},
                                  {"X-Job-Header-Tenant", "acme"},
                                  {"idempotency-key", "k1"},
                                  {"Content-Type", "text/plain"}},
                                 &o, &err))
      << err;
  EXPECT_EQ(o.priority, 8);
  EXPECT_EQ(o.type, "report");
  EXPECT_EQ(o.max_attempts, 2u);
  EXPECT_EQ(o.timeout_ms, 5000u);
  EXPECT_EQ(o.delay_ms, 100u);
  EXPECT_EQ(o.idempotency_key, "k1");
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[0], (std::pair<std::string, std::string>{"trace", "t1"}));
  EXPECT_EQ(o.headers[1], (std::pair<std::string, std::string>{"Tenant", "acme"}));
  ASSERT_TRUE(ParseEnqueueParams({{"run_at", "2030-01-01T00:00:00Z"}}, {}, &o, &err)) << err;
  EXPECT_EQ(o.run_at_unix_ns, 1893456000ull * 1'000'000'000);
}

TEST(EnqueueParamsTest, MalformedUnknownOrRepeatedOptionsAreErrors) {
  EnqueueOptions o;
  std::string err;
  EXPECT_FALSE(ParseEnqueueParams({{"priority", "10"}}, {}, &o, &err));
  EXPECT_FALSE(ParseEnqueueParams({{"priority", "-1"}}, {}, &o, &err));
  EXPECT_FALSE(ParseEnqueueParams({{"priority", ""}}, {}, &o, &err));
  EXPECT_FALSE(ParseEnqueueParams({{"delay_ms", "1e3"}}, {}, &o, &err));
  EXPECT_FALSE(ParseEnqueueParams({{"run_at", "tomorrow"}}, {}, &o, &err));
  EXPECT_FALSE(ParseEnqueueParams({{"max_attempts", "256"}}, {}, &o, &err));
  EXPECT_FALSE(ParseEnqueueParams({{"colour", "blue"}}, {}, &o, &err));
  EXPECT_NE(err.find("colour"), std::string::npos);
  EXPECT_FALSE(ParseEnqueueParams({{"priority", "1"}}, {{"X-Job-Priority", "2"}}, &o, &err));
  EXPECT_FALSE(
      ParseEnqueueParams({}, {{"Idempotency-Key", "a"}, {"Idempotency-Key", "b"}}, &o, &err));
}

TEST(RequestGuardTest, HostMustNameTheGatewayItself) {
  ListenAddress a;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:0", &a).ok());
  const RequestGuard g(a, 8080, {"api.internal"}, "");
  EXPECT_TRUE(g.HostAllowed("127.0.0.1:8080"));
  EXPECT_TRUE(g.HostAllowed("LOCALHOST:8080"));
  EXPECT_TRUE(g.HostAllowed("[::1]:8080"));
  EXPECT_TRUE(g.HostAllowed("api.internal:8080"));
  EXPECT_FALSE(g.HostAllowed("127.0.0.1"));  // port 80 implied: another origin
  EXPECT_FALSE(g.HostAllowed("127.0.0.1:8081"));
  EXPECT_FALSE(g.HostAllowed("evil.example:8080"));
  EXPECT_FALSE(g.HostAllowed(""));
  EXPECT_TRUE(g.OriginAllowed("http://localhost:8080"));
  EXPECT_FALSE(g.OriginAllowed("https://localhost:8080"));
  EXPECT_FALSE(g.OriginAllowed("null"));
  EXPECT_FALSE(g.OriginAllowed("http://evil.example:8080"));
  EXPECT_EQ(g.Check("127.0.0.1:8080", true, "http://evil.example", ""),
            RequestGuard::Verdict::kBadOrigin);
  EXPECT_EQ(g.Check("127.0.0.1:8080", false, "", ""), RequestGuard::Verdict::kAllow);
}

TEST(RequestGuardTest, OnPort80TheBareNameIsTheSameOrigin) {
  ListenAddress a;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:80", &a).ok());
  const RequestGuard g(a, 80, {}, "");
  EXPECT_TRUE(g.HostAllowed("127.0.0.1"));
  EXPECT_TRUE(g.HostAllowed("localhost"));
  EXPECT_TRUE(g.OriginAllowed("http://localhost"));
}

TEST(RequestGuardTest, AnUnspecifiedAddressAllowsOnlyNamedHosts) {
  ListenAddress a;
  ASSERT_TRUE(ParseListenAddress("0.0.0.0:9000", &a).ok());
  const RequestGuard g(a, 9000, {"10.0.0.5", "gw.example:443"}, "tok");
  EXPECT_FALSE(g.HostAllowed("0.0.0.0:9000"));
  EXPECT_FALSE(g.HostAllowed("localhost:9000"));
  EXPECT_TRUE(g.HostAllowed("10.0.0.5:9000"));
  EXPECT_TRUE(g.HostAllowed("gw.example:443"));
}

TEST(RequestGuardTest, BearerTokenIsRequiredWhenSet) {
  ListenAddress a;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:8080", &a).ok());
  const RequestGuard g(a, 8080, {}, "0123456789abcdef");
  const std::string host = "127.0.0.1:8080";
  EXPECT_EQ(g.Check(host, false, "", ""), RequestGuard::Verdict::kUnauthorized);
  EXPECT_EQ(g.Check(host, false, "", "Bearer 0123456789abcde"),
            RequestGuard::Verdict::kUnauthorized);
  EXPECT_EQ(g.Check(host, false, "", "Bearer 0123456789abcdef0"),
            RequestGuard::Verdict::kUnauthorized);
  EXPECT_EQ(g.Check(host, false, "", "Basic 0123456789abcdef"),
            RequestGuard::Verdict::kUnauthorized);
  EXPECT_EQ(g.Check(host, false, "", "Bearer 0123456789abcdef"), RequestGuard::Verdict::kAllow);
  EXPECT_EQ(g.Check(host, false, "", "bearer 0123456789abcdef"), RequestGuard::Verdict::kAllow);
  EXPECT_EQ(g.Check("evil:8080", false, "", "Bearer 0123456789abcdef"),
            RequestGuard::Verdict::kBadHost);
}

TEST(RequestGuardTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace taskring::http
