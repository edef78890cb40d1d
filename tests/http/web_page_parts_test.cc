// The web page's pure pieces: HTML escaping of untrusted bytes, content negotiation, the new
// routes, the CSRF check, list limits, the history ring, and the pages rendered from hostile
// data (nothing in a payload, type, error or name may become markup).
#include <gtest/gtest.h>

#include <string>

#include "http/content_negotiation.h"
#include "http/csrf.h"
#include "http/history.h"
#include "http/html_escape.h"
#include "http/job_lists.h"
#include "http/pages.h"
#include "http/request_guard.h"
#include "http/route.h"

namespace taskring::http {
namespace {

const std::string kEvil = "<script>alert(\"x\")</script>' & \"q\" \xff\xfe\xc0\x80 \x01";

// No raw tag opener from the data, and no quote from the data inside any attribute. We check
// the rendered page has no "<script" other than the page's own single script element, and that
// the evil string's quotes never appear unescaped.
void ExpectInert(const std::string& html) {
  size_t scripts = 0;
  for (size_t at = html.find("<script"); at != std::string::npos;
       at = html.find("<script", at + 1)) {
    ++scripts;
  }
  EXPECT_EQ(scripts, 1u) << html;  // the page's own script only
  EXPECT_EQ(html.find("alert(\""), std::string::npos);
  EXPECT_EQ(html.find("' & \""), std::string::npos);
  EXPECT_EQ(html.find("\xff"), std::string::npos);
  EXPECT_EQ(html.find('\x01'), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
}

TEST(HtmlEscapeTest, MarkupQuotesAndInvalidUtf8ComeOutInert) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // valid UTF-8
  EXPECT_EQ(HtmlEscape("a\xff"
                       "b"),
            "a\\xffb");
  EXPECT_EQ(HtmlEscape("\xc0\x80"), "\\xc0\\x80");           // overlong NUL
  EXPECT_EQ(HtmlEscape("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(HtmlEscape("\xe2\x82"), "\\xe2\\x82");           // cut short
  EXPECT_EQ(HtmlEscape(std::string("\0\x1b", 2)), "\\x00\\x1b");
}

TEST(HtmlEscapeTest, PreviewMarksBinaryAndStaysValidUtf8) {
  bool binary = true;
  EXPECT_EQ(PreviewText("{\"a\": 1}\n", 256, &binary), "{\"a\": 1}\n");
  EXPECT_FALSE(binary);
  EXPECT_EQ(PreviewText(std::string("\x00\xff"
                                    "ab",
                                    4),
                        256, &binary),
            "\\x00\\xffab");
  EXPECT_TRUE(binary);
  EXPECT_EQ(PreviewText(std::string(1000, 'x'), 256, &binary).size(), 256u);
}

TEST(ContentNegotiationTest, BrowsersGetHtmlEveryoneElseJson) {
  EXPECT_TRUE(
      PrefersHtml("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"));
  EXPECT_TRUE(PrefersHtml("text/html"));
  EXPECT_FALSE(PrefersHtml(""));
  EXPECT_FALSE(PrefersHtml("*/*"));  // curl
  EXPECT_FALSE(PrefersHtml("application/json"));
  EXPECT_FALSE(PrefersHtml("application/json, text/html"));  // a tie answers JSON
  EXPECT_FALSE(PrefersHtml("text/html;q=0.5, application/json"));
  EXPECT_FALSE(PrefersHtml("text/html;q=0"));
  EXPECT_FALSE(PrefersHtml("text/html;q=banana"));
  EXPECT_TRUE(PrefersHtml("TEXT/HTML ; q=1, */*;q=0.1"));
}

TEST(WebRouteTest, NewPathsNameTheirResources) {
  Route r;
  std::string err;
  ASSERT_TRUE(ParseTarget("/", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kRoot);
  ASSERT_TRUE(ParseTarget("/queues", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kQueues);
  ASSERT_TRUE(ParseTarget("/queues/q/running?limit=5", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kRunning);
  EXPECT_EQ(r.queue, "q");
  ASSERT_TRUE(ParseTarget("/queues/q/delayed", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kDelayed);
  ASSERT_TRUE(ParseTarget("/queues/q/failures", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kFailures);
  ASSERT_TRUE(ParseTarget("/queues/q/history", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kHistory);
  ASSERT_TRUE(ParseTarget("/queues/q/dead", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kDead);
  ASSERT_TRUE(ParseTarget("/queues/q/dead/requeue", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kDeadRequeueAll);
  ASSERT_TRUE(ParseTarget("/queues/q/dead/purge", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kDeadPurgeAll);
  ASSERT_TRUE(ParseTarget("/queues/q/dead/17/requeue", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kDeadRequeue);
  EXPECT_EQ(r.dead_id, "17");
  ASSERT_TRUE(ParseTarget("/queues/q/dead/17/purge", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kDeadPurge);
  ASSERT_TRUE(ParseTarget("/queues/q/jobs/abc/cancel", &r, &err));
  EXPECT_EQ(r.kind, RouteKind::kJobCancel);
  EXPECT_EQ(r.token, "abc");
  EXPECT_TRUE(IsAction(RouteKind::kJobCancel));
  EXPECT_FALSE(IsAction(RouteKind::kDead));
  for (const char* none :
       {"/queues/q/dead/17", "/queues/q/dead/17/x", "/queues/q/running/1", "/queues/q/dead/",
        "/queues/q//dead", "/queues/", "/x", "/queues/q/dead/1/requeue/"}) {
    ASSERT_TRUE(ParseTarget(none, &r, &err)) << none;
    EXPECT_EQ(r.kind, RouteKind::kNotFound) << none;
  }
}

TEST(ListLimitTest, DefaultBoundsAndUnknownParameters) {
  size_t limit = 0;
  std::string err;
  EXPECT_TRUE(ParseListLimit({}, &limit, &err));
  EXPECT_EQ(limit, kDefaultListLimit);
  EXPECT_TRUE(ParseListLimit({{"limit", "7"}}, &limit, &err));
  EXPECT_EQ(limit, 7u);
  for (const char* bad : {"0", "1001", "-1", "", "1e3", "99999999999999999999999"}) {
    EXPECT_FALSE(ParseListLimit({{"limit", bad}}, &limit, &err)) << bad;
  }
  EXPECT_FALSE(ParseListLimit({{"limt", "5"}}, &limit, &err));
}

Request FormPost(const std::string& body) {
  Request req{bhttp::verb::post, "/queues/q/dead/purge", 11};
  req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
  req.body() = body;
  return req;
}

TEST(CsrfTest, TokenIsRandomAndCheckedFromFormOrHeader) {
  const std::string t = NewCsrfToken();
  EXPECT_EQ(t.size(), 32u);
  EXPECT_NE(t, NewCsrfToken());
  EXPECT_TRUE(CsrfMatches(FormPost("csrf=" + t), t));
  EXPECT_TRUE(CsrfMatches(FormPost("x=1&csrf=" + t), t));
  EXPECT_FALSE(CsrfMatches(FormPost(""), t));
  EXPECT_FALSE(CsrfMatches(FormPost("csrf="), t));
  EXPECT_FALSE(CsrfMatches(FormPost("csrf=" + t.substr(1)), t));
  EXPECT_FALSE(CsrfMatches(FormPost("csrf=%zz"), t));
  Request json = FormPost("csrf=" + t);
  json.set(bhttp::field::content_type, "application/json");  // only a form's field counts
  EXPECT_FALSE(CsrfMatches(json, t));
  Request header{bhttp::verb::post, "/", 11};
  header.set("X-CSRF-Token", t);
  EXPECT_TRUE(CsrfMatches(header, t));
  header.set("X-CSRF-Token", "nope");
  EXPECT_FALSE(CsrfMatches(header, t));
}

TEST(LoginCookieTest, GuardTakesTheCookieAsTheToken) {
  EXPECT_EQ(CookieValue("a=1; taskring_token=abc; b=2", kTokenCookie), "abc");
  EXPECT_EQ(CookieValue("taskring_token=x", kTokenCookie), "x");
  EXPECT_EQ(CookieValue("xtaskring_token=x; a=", kTokenCookie), "");
  EXPECT_EQ(CookieValue("", kTokenCookie), "");
  ListenAddress listen;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:80", &listen).ok());
  const RequestGuard guard(listen, 80, {}, "s3cret;token,0123456789");
  const std::string cookie = guard.LoginCookie();
  const std::string pair = cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(pair.find(' '), std::string::npos);  // hex: any token makes a valid cookie
  EXPECT_EQ(guard.Check("127.0.0.1", false, "", "", pair), RequestGuard::Verdict::kAllow);
  EXPECT_EQ(guard.Check("127.0.0.1", false, "", "", pair + "0"),
            RequestGuard::Verdict::kUnauthorized);
  EXPECT_EQ(guard.Check("127.0.0.1", false, "", "", "taskring_token="),
            RequestGuard::Verdict::kUnauthorized);
  EXPECT_TRUE(guard.TokenMatches("s3cret;token,0123456789"));
  EXPECT_FALSE(guard.TokenMatches("s3cret;token,012345678"));
}

TEST(HistoryTest, RingKeepsTheNewestSamplesAndRatesBetweenThem) {
  History h;
  metrics::QueueSnapshot s;
  for (uint64_t i = 0; i < History::kCapacity + 50; ++i) {
    s.unix_ns = (i + 1) * 2'000'000'000ull;
    s.queued = i;
    s.counters[static_cast<uint32_t>(segment::Counter::kCompleted)] = i * 10;  // 5/s
    h.Add(s);
  }
  const Json j = h.ToJson();
  ASSERT_EQ(j["samples"].size(), History::kCapacity);
  EXPECT_EQ(j["samples"].back()["depth"], History::kCapacity + 49);
  EXPECT_DOUBLE_EQ(j["samples"].back()["completed_per_s"].get<double>(), 5.0);
  EXPECT_EQ(h.ToJson(3)["samples"].size(), 3u);
  // A daemon restart: counters start again from zero, no negative rate.
  s.unix_ns += 2'000'000'000ull;
  s.counters[static_cast<uint32_t>(segment::Counter::kCompleted)] = 4;
  h.Add(s);
  EXPECT_GE(h.ToJson(1)["samples"][0]["completed_per_s"].get<double>(), 0.0);
}

TEST(PagesTest, HostileStringsAreInertOnEveryPage) {
  const PageContext ctx{"0123456789abcdef0123456789abcdef", false};
  Json stats = {
      {"queue", kEvil},  {"up", true},          {"depth", 3},        {"capacity", 10},
      {"daemon", kEvil}, {"durability", kEvil}, {"dead_letters", 1}, {"rates_per_s", nullptr}};
  const Json queues = Json::array({stats});
  ExpectInert(OverviewPage(queues, Json::object(), ctx));

  const Json row = {{"id", 7},
                    {"token", kEvil},
                    {"type", kEvil},
                    {"attempt", 1},
                    {"max_attempts", 3},
                    {"error", kEvil},
                    {"kind", kEvil},
                    {"state", kEvil},
                    {"status_url", "/queues/q/jobs/\"><script>"},
                    {"progress", {{"percent", 40}, {"message", kEvil}}}};
  const Json rows = Json::array({row});
  ExpectInert(QueuePage(kEvil, stats, Json::object(), rows, rows, rows, ctx));

  Json job = row;
  job["headers"] = {{kEvil, kEvil}};
  job["result_url"] = "/x\"<script>";
  ExpectInert(JobPage(kEvil, job, ctx));

  const Json dead = {{"total", 1},
                     {"letters", Json::array({{{"id", 9},
                                               {"type", kEvil},
                                               {"attempts", 3},
                                               {"error", kEvil},
                                               {"payload_preview", kEvil},
                                               {"binary", true},
                                               {"payload_bytes", 80},
                                               {"status_url", kEvil}}})}};
  const std::string page = DeadPage(kEvil, dead, ctx);
  ExpectInert(page);
  EXPECT_NE(page.find("<table id=\"dead\">"), std::string::npos);
  EXPECT_NE(page.find("<tr data-dead-id=\"9\">"), std::string::npos);
  EXPECT_NE(page.find("data-action=\"requeue-all\""), std::string::npos);
  EXPECT_NE(page.find("<meta name=\"csrf-token\" content=\"" + ctx.csrf + "\">"),
            std::string::npos);
  EXPECT_NE(page.find("name=\"csrf\" value=\"" + ctx.csrf + "\""), std::string::npos);
}

TEST(PagesTest, ReadOnlyDisablesEveryButtonWithAReason) {
  const PageContext ctx{"t", true};
  const Json dead = {{"total", 1}, {"letters", Json::array({{{"id", 9}, {"type", "a"}}})}};
  const std::string page = DeadPage("q", dead, ctx);
  size_t buttons = 0, disabled = 0;
  for (size_t at = page.find("<button"); at != std::string::npos;
       at = page.find("<button", at + 1)) {
    ++buttons;
    const std::string tag = page.substr(at, page.find('>', at) - at);
    if (tag.find(" disabled title=\"read-only") != std::string::npos) ++disabled;
  }
  EXPECT_EQ(buttons, 4u);
  EXPECT_EQ(disabled, buttons);
}

}  // namespace
}  // namespace taskring::http
