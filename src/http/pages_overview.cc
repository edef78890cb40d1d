// `/`: one row per served queue, refreshed by the page script every 2 s.
#include "http/html_escape.h"
#include "http/pages.h"

namespace taskring::http {
namespace {

// A cell the page script refreshes: data-field is a path into the /queues item.
std::string Field(const char* tag, const Json& q, const char* field) {
  return std::string("<") + tag + " data-field=\"" + field + "\">" + Text(Pick(q, field)) + "</" +
         tag + ">";
}

}  // namespace

std::string OverviewPage(const Json& queues, const Json& histories, const PageContext& ctx) {
  std::string b =
      "<h1>Queues</h1>\n<table id=\"queues\"><thead><tr><th class=\"l\">queue</th>"
      "<th>state</th><th>depth</th><th>capacity</th><th>outstanding</th><th>running</th>"
      "<th>delayed</th><th>dead letters</th><th>workers</th><th>producers</th>"
      "<th>accepted/s</th><th>completed/s</th><th>failed/s</th><th>oldest job (ms)</th>"
      "<th>wait p50 / p99 (ms)</th><th>end-to-end p50 / p99 (ms)</th>"
      "<th>depth · completed/s, last 2 min</th></tr></thead><tbody>\n";
  for (const Json& q : queues) {
    const Json n = Pick(q, "queue");
    const std::string name = n.is_string() ? n.get<std::string>() : std::string();
    const std::string state = QueueState(q);
    b += "<tr data-queue=\"" + HtmlEscape(name) + "\"><td class=\"l\"><a href=\"/queues/" +
         HtmlEscape(name) + "\">" + HtmlEscape(name) +
         "</a></td><td data-field=\"state\" class=\"" + state + "\">" + state + "</td>";
    for (const char* f : {"depth", "capacity", "outstanding", "running", "delayed", "dead_letters",
                          "workers", "producers", "rates_per_s.accepted", "rates_per_s.completed",
                          "rates_per_s.failed", "oldest_age_ms"}) {
      b += Field("td", q, f);
    }
    const Json history =
        histories.is_object() && histories.contains(name) ? histories[name] : Json(nullptr);
    b += "<td>" + Field("span", q, "latency_ms.wait.p50") + " / " +
         Field("span", q, "latency_ms.wait.p99") + "</td><td>" +
         Field("span", q, "latency_ms.e2e.p50") + " / " + Field("span", q, "latency_ms.e2e.p99") +
         "</td><td class=\"spark\">" + Chart(history, name, {"depth"}, 100, 28, 60) + " " +
         Chart(history, name, {"completed_per_s"}, 100, 28, 60) + "</td></tr>\n";
  }
  b += "</tbody></table>\n";
  if (queues.empty()) b += "<p class=\"muted\">No queue served yet.</p>\n";
  return Page("queues", ctx, b);
}

}  // namespace taskring::http
