// `/queues/{q}/jobs/{token}`: one job's state, progress, attempts, times, error and result, with
// a Cancel button.
#include "http/html_escape.h"
#include "http/pages.h"

namespace taskring::http {

std::string JobPage(const std::string& queue, const Json& job, const PageContext& ctx) {
  const std::string q = HtmlEscape(queue);
  const Json progress = Pick(job, "progress");
  const std::string state = Text(Pick(job, "state"));
  std::string b = "<p><a href=\"/queues/" + q + "\">queue " + q + "</a></p><h1>Job " +
                  Text(Pick(job, "id")) + "</h1>\n<table id=\"job\">";
  b += "<tr><th class=\"l\">state</th><td id=\"job-state\">" + state + "</td></tr>";
  // A finished job has nothing left to cancel, and a completed one is done whatever it last
  // reported.
  const bool finished =
      state == "completed" || state == "dead" || state == "cancelled" || state == "expired";
  const Json percent = Pick(progress, "percent");
  const Json message = Pick(progress, "message");
  std::string value = "0", note = "no report yet";
  if (state == "completed") {
    value = "100", note = "done";
  } else if (percent.is_number()) {
    value = Text(percent), note = Text(percent) + "%";
  }
  if (message.is_string() && !message.get_ref<const std::string&>().empty()) {
    note += " " + Text(message);
  }
  b += "<tr><th class=\"l\">progress</th><td class=\"l\"><progress id=\"job-progress\" "
       "max=\"100\" value=\"" +
       value + "\">" + value + "%</progress> " + note + "</td></tr>";
  static constexpr const char* kRows[][2] = {
      {"attempt", "attempt"},
      {"max attempts", "max_attempts"},
      {"priority", "priority"},
      {"type", "type"},
      {"enqueued", "enqueued_at"},
      {"started", "started_at"},
      {"finished", "finished_at"},
      {"updated", "updated_at"},
      {"cancel requested", "cancel_requested"},
  };
  for (const auto& [label, key] : kRows) {
    b += "<tr><th class=\"l\">" + std::string(label) + "</th><td class=\"l\">" +
         Text(Pick(job, key)) + "</td></tr>";
  }
  b += "<tr><th class=\"l\">error</th><td class=\"l\"><pre>" + Text(Pick(job, "error")) +
       "</pre></td></tr>";
  const Json result_url = Pick(job, "result_url");
  b += "<tr><th class=\"l\">result</th><td class=\"l\">" + Text(Pick(job, "result_bytes")) +
       " bytes";
  if (result_url.is_string()) b += " <a href=\"" + Text(result_url) + "\" download>download</a>";
  b += "</td></tr>";
  const Json headers = Pick(job, "headers");
  if (headers.is_object()) {
    for (const auto& item : headers.items()) {
      b += "<tr><th class=\"l\">header " + HtmlEscape(item.key()) + "</th><td class=\"l\">" +
           Text(item.value()) + "</td></tr>";
    }
  }
  b += "</table>\n";
  const Json token = Pick(job, "status_url");
  if (finished) {
    b += "<p class=\"muted\">Finished: nothing to cancel.</p>\n";
  } else if (token.is_string()) {
    b += "<p>" +
         ActionButton(ctx, token.get<std::string>() + "/cancel", "cancel", "Cancel",
                      "Cancel this job?") +
         "</p>\n";
  }
  return Page("job", ctx, b);
}

}  // namespace taskring::http
