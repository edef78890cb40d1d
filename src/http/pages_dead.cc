// `/queues/{q}/dead`: the dead letters, each with Requeue and Purge, and both for all.
#include "http/html_escape.h"
#include "http/pages.h"

namespace taskring::http {

std::string DeadPage(const std::string& queue, const Json& dead, const PageContext& ctx) {
  const std::string q = HtmlEscape(queue);
  const std::string base = "/queues/" + queue + "/dead";
  std::string b = "<p><a href=\"/queues/" + q + "\">queue " + q + "</a></p><h1>Dead letters of " +
                  q + " (" + Text(Pick(dead, "total")) + ")</h1>\n<p>" +
                  ActionButton(ctx, base + "/requeue", "requeue-all", "Requeue all",
                               "Requeue every dead letter of this queue?") +
                  " " +
                  ActionButton(ctx, base + "/purge", "purge-all", "Purge all",
                               "Delete every dead letter of this queue? This cannot be undone.") +
                  "</p>\n";
  b += "<table id=\"dead\"><thead><tr><th>id</th><th class=\"l\">type</th><th>attempts</th>"
       "<th class=\"l\">error</th><th class=\"l\">payload</th><th>bytes</th><th>enqueued</th>"
       "<th>died</th><th></th></tr></thead><tbody>\n";
  const Json letters = Pick(dead, "letters");
  if (letters.is_array()) {
    for (const Json& d : letters) {
      const Json id = Pick(d, "id");
      const std::string ids = Text(id);
      const Json url = Pick(d, "status_url");
      const Json enq = Pick(d, "enqueued_unix_ms"), died = Pick(d, "dead_unix_ms");
      const bool binary = Pick(d, "binary").is_boolean() && Pick(d, "binary").get<bool>();
      b += "<tr data-dead-id=\"" + ids + "\"><td>" +
           (url.is_string() ? "<a href=\"" + Text(url) + "\">" + ids + "</a>" : ids) +
           "</td><td class=\"l\">" + Text(Pick(d, "type")) + "</td><td>" +
           Text(Pick(d, "attempts")) + "</td><td class=\"l\"><pre>" + Text(Pick(d, "error")) +
           "</pre></td><td class=\"l\"><pre>" + Text(Pick(d, "payload_preview")) + "</pre>" +
           (binary ? "<span class=\"muted\">binary</span>" : "") + "</td><td>" +
           Text(Pick(d, "payload_bytes")) + "</td><td>" + UnixMsText(AsU64(enq)) + "</td><td>" +
           UnixMsText(AsU64(died)) + "</td><td>";
      if (AsU64(id) != 0) {
        b += ActionButton(ctx, base + "/" + ids + "/requeue", "requeue", "Requeue",
                          "Requeue dead letter " + ids + "?") +
             " " +
             ActionButton(ctx, base + "/" + ids + "/purge", "purge", "Purge",
                          "Delete dead letter " + ids + "?");
      }
      b += "</td></tr>\n";
    }
  }
  b += "</tbody></table>\n";
  return Page("dead letters of " + queue, ctx, b);
}

}  // namespace taskring::http
