// `/queues/{q}`: the numbers of `taskring stat`, charts of the last minutes, and the jobs
// running, delayed and recently failed, each linked to its job page.
#include "http/html_escape.h"
#include "http/pages.h"

namespace taskring::http {
namespace {

std::string JobLink(const Json& row) {
  const Json url = Pick(row, "status_url");
  const std::string id = Text(Pick(row, "id"));
  if (!url.is_string()) return id;
  return "<a href=\"" + Text(url) + "\">" + id + "</a>";
}

std::string Progress(const Json& p) {
  if (!p.is_object()) return "–";
  return "<progress max=\"100\" value=\"" + Text(Pick(p, "percent")) + "\"></progress> " +
         Text(Pick(p, "percent")) + "% " + Text(Pick(p, "message"));
}

}  // namespace

std::string QueuePage(const std::string& queue, const Json& stats, const Json& history,
                      const Json& running, const Json& delayed, const Json& failures,
                      const PageContext& ctx) {
  const std::string q = HtmlEscape(queue);
  const std::string state = QueueState(stats);
  std::string b = "<h1>Queue " + q + " <small data-field=\"state\" class=\"" + state + "\">" +
                  state + "</small></h1>\n";
  b += "<p><a href=\"/queues/" + q + "/dead\">dead letters (" + Text(Pick(stats, "dead_letters")) +
       ")</a></p>\n";
  // The numbers beside the charts (one screen at 3 a.m.); one [data-queue] container, so the
  // page script refreshes these cells from /queues.
  b += "<div class=\"cols\"><table id=\"stats\"><tbody data-queue=\"" + q + "\">";
  static constexpr const char* kRows[][2] = {
      {"daemon", "daemon"},
      {"durability", "durability"},
      {"depth", "depth"},
      {"capacity", "capacity"},
      {"outstanding", "outstanding"},
      {"running", "running"},
      {"delayed", "delayed"},
      {"dead letters", "dead_letters"},
      {"oldest job (ms)", "oldest_age_ms"},
      {"workers", "workers"},
      {"producers", "producers"},
      {"drain rate (/s)", "drain_per_s"},
      {"retry-after hint (ms)", "retry_after_ms"},
      {"accepted/s", "rates_per_s.accepted"},
      {"completed/s", "rates_per_s.completed"},
      {"failed/s", "rates_per_s.failed"},
      {"retried/s", "rates_per_s.retried"},
      {"accepted (total)", "counters.accepted"},
      {"completed (total)", "counters.completed"},
      {"failed (total)", "counters.failed"},
      {"retried (total)", "counters.retried"},
      {"dead (total)", "counters.dead"},
      {"redelivered (total)", "counters.redelivered"},
      {"wait p50 / p99 (ms)", "latency_ms.wait"},
      {"run p50 / p99 (ms)", "latency_ms.run"},
      {"end-to-end p50 / p99 (ms)", "latency_ms.e2e"},
  };
  for (const auto& [label, path] : kRows) {
    b += "<tr><th class=\"l\">" + std::string(label) + "</th>";
    const std::string p = path;
    if (p.rfind("latency_ms.", 0) == 0) {
      b += "<td><span data-field=\"" + p + ".p50\">" + Text(Pick(stats, p + ".p50")) +
           "</span> / <span data-field=\"" + p + ".p99\">" + Text(Pick(stats, p + ".p99")) +
           "</span></td></tr>";
    } else {
      b += "<td data-field=\"" + p + "\">" + Text(Pick(stats, p)) + "</td></tr>";
    }
  }
  b += "</tbody></table>\n<div><h2>Last minutes</h2>\n<p>depth and running "
       "<span class=\"muted\">(blue, green)</span><br>" +
       Chart(history, queue, {"depth", "running"}, 600, 80) +
       "</p><p>accepted, completed and failed per second <span class=\"muted\">(blue, green, "
       "red)</span><br>" +
       Chart(history, queue, {"accepted_per_s", "completed_per_s", "failed_per_s"}, 600, 80) +
       "</p><p>wait p99 and end-to-end p99, ms <span class=\"muted\">(blue, green)</span><br>" +
       Chart(history, queue, {"wait_p99_ms", "e2e_p99_ms"}, 600, 80) + "</p></div></div>\n";

  b += "<section id=\"running\"><h2>Running</h2><table><thead><tr><th>id</th>"
       "<th class=\"l\">type</th><th>attempt</th><th>worker pid</th><th class=\"l\">progress</th>"
       "<th>running for (ms)</th></tr></thead><tbody>\n";
  for (const Json& r : running) {
    b += "<tr data-job-id=\"" + Text(Pick(r, "id")) + "\"><td>" + JobLink(r) +
         "</td><td class=\"l\">" + Text(Pick(r, "type")) + "</td><td>" + Text(Pick(r, "attempt")) +
         " / " + Text(Pick(r, "max_attempts")) + "</td><td>" + Text(Pick(r, "worker_pid")) +
         "</td><td class=\"l\">" + Progress(Pick(r, "progress")) + "</td><td>" +
         Text(Pick(r, "running_for_ms")) + "</td></tr>\n";
  }
  b += "</tbody></table></section>\n";

  b += "<section id=\"delayed\"><h2>Delayed</h2><table><thead><tr><th>id</th>"
       "<th class=\"l\">type</th><th>attempt</th><th class=\"l\">state</th><th>due</th>"
       "<th>in (ms)</th></tr></thead><tbody>\n";
  for (const Json& r : delayed) {
    const Json due = Pick(r, "due_unix_ms");
    b += "<tr data-job-id=\"" + Text(Pick(r, "id")) + "\"><td>" + JobLink(r) +
         "</td><td class=\"l\">" + Text(Pick(r, "type")) + "</td><td>" + Text(Pick(r, "attempt")) +
         "</td><td class=\"l\">" + Text(Pick(r, "state")) + "</td><td>" + UnixMsText(AsU64(due)) +
         "</td><td>" + Text(Pick(r, "due_in_ms")) + "</td></tr>\n";
  }
  b += "</tbody></table></section>\n";

  b += "<section id=\"failures\"><h2>Recent failures</h2><table><thead><tr><th>id</th>"
       "<th class=\"l\">kind</th><th class=\"l\">type</th><th>attempt</th>"
       "<th class=\"l\">error</th><th>when</th></tr></thead><tbody>\n";
  for (const Json& r : failures) {
    const Json when = Pick(r, "when_unix_ms");
    b += "<tr data-job-id=\"" + Text(Pick(r, "id")) + "\"><td>" + JobLink(r) +
         "</td><td class=\"l\">" + Text(Pick(r, "kind")) + "</td><td class=\"l\">" +
         Text(Pick(r, "type")) + "</td><td>" + Text(Pick(r, "attempt")) + " / " +
         Text(Pick(r, "max_attempts")) + "</td><td class=\"l\"><pre>" + Text(Pick(r, "error")) +
         "</pre></td><td>" + UnixMsText(AsU64(when)) + "</td></tr>\n";
  }
  b += "</tbody></table></section>\n";
  return Page("queue " + queue, ctx, b);
}

}  // namespace taskring::http
