// The pieces every page of the gateway's web UI is made of: the layout (head, inline CSS and
// script, the CSRF meta tag), action buttons (a POST form with the CSRF field, disabled under
// --read-only), inline SVG charts, and the HTML response. Pages are server-rendered from the
// same JSON the JSON routes answer, so the two never disagree; no asset is fetched from
// anywhere (the page works offline), and the script only refreshes numbers and charts.
//
// Every string from a job, a letter or a URL goes through HtmlEscape (html_escape.h) here.
#ifndef TASKRING_HTTP_HTML_PAGE_H_
#define TASKRING_HTTP_HTML_PAGE_H_

#include <string>
#include <string_view>

#include "http/http_types.h"
#include "http/job_json.h"

namespace taskring::http {

struct PageContext {
  std::string csrf;        // the gateway's CSRF token (csrf.h)
  bool read_only = false;  // --read-only: buttons disabled
};

// A whole page: layout around `body` (already HTML). `title` is escaped.
std::string Page(std::string_view title, const PageContext& ctx, const std::string& body);

// A JSON value as escaped text: strings escaped, numbers as JSON writes them (doubles with two
// decimals), null as "–".
std::string Text(const Json& v);

// The value at a dotted path ("latency_ms.wait.p50") of an object, or null: as the page script
// reads the same paths from the JSON.
Json Pick(const Json& j, std::string_view path);

// A non-negative integer value, else 0.
uint64_t AsU64(const Json& v);

// A form posting to `action` (a path) with the CSRF field and one button carrying
// data-action=`data_action`; `confirm` (if not empty) asks first, with JavaScript (without it the
// form posts directly). Disabled, with a title saying why, when read-only.
std::string ActionButton(const PageContext& ctx, const std::string& action,
                         std::string_view data_action, std::string_view label,
                         std::string_view confirm);

// An inline SVG chart of `series` (keys of the history samples) over `history` (the /history
// JSON). With `refresh_queue` set, the page script redraws it from /queues/{q}/history.
std::string Chart(const Json& history, const std::string& refresh_queue,
                  std::initializer_list<const char*> series, int width, int height,
                  size_t limit = 300);

// "up", "paused", "refusing" or "down", from a /queues item.
std::string QueueState(const Json& stats);

// "12:34:56" style age of a unix-ms time, and a plain RFC 3339 UTC time; "–" for 0.
std::string UnixMsText(uint64_t unix_ms);

// 200 text/html, no-store, with a Content-Security-Policy that runs no script but /ui.js (no
// inline code, no event-handler attribute), allows same-origin fetches and forms only, and no
// framing (clickjacking the buttons).
Response HtmlResponse(bhttp::status code, std::string body);

// 200 text/javascript: the one script every page loads from /ui.js.
Response PageScriptResponse();

}  // namespace taskring::http

#endif  // TASKRING_HTTP_HTML_PAGE_H_
