// Making untrusted bytes inert in HTML. Payloads, job types, errors, progress messages and even
// queue names come from any process on the host: they are escaped where they are written into a
// page, every time, so no string can open a tag or close an attribute.
#ifndef TASKRING_HTTP_HTML_ESCAPE_H_
#define TASKRING_HTTP_HTML_ESCAPE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace taskring::http {

// Text safe inside an element and inside a double- or single-quoted attribute: & < > " ' are
// character references, control bytes and bytes that are not valid UTF-8 are shown as "\xNN"
// (never raw), valid UTF-8 passes through.
std::string HtmlEscape(std::string_view bytes);

// The first `max_bytes` of a payload as readable text: valid printable UTF-8 as is, any other
// byte as "\xNN" (so the result is valid UTF-8, safe for JSON). *binary: some byte needed that
// (tabs and newlines do not count).
std::string PreviewText(std::string_view bytes, size_t max_bytes, bool* binary);

}  // namespace taskring::http

#endif  // TASKRING_HTTP_HTML_ESCAPE_H_
