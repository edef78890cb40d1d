#include "http/enqueue_params.h"

#include <strings.h>

#include <charconv>
#include <string_view>

#include "util/rfc3339.h"

namespace taskring::http {
namespace {

// One option: its query name and its header name.
struct Param {
  const char* query;
  const char* header;
};
constexpr Param kPriority{"priority", "X-Job-Priority"};
constexpr Param kType{"type", "X-Job-Type"};
constexpr Param kDelayMs{"delay_ms", "X-Job-Delay-Ms"};
constexpr Param kRunAt{"run_at", "X-Job-Run-At"};
constexpr Param kMaxAttempts{"max_attempts", "X-Job-Max-Attempts"};
constexpr Param kTimeoutMs{"timeout_ms", "X-Job-Timeout-Ms"};
constexpr std::string_view kHeaderQueryPrefix = "header.";         // ?header.trace-id=4bf9
constexpr std::string_view kHeaderHeaderPrefix = "X-Job-Header-";  // X-Job-Header-Trace-Id: 4bf9

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

// The value of `p` from the query or a header; false (with *error) if given more than once.
bool Lookup(const QueryParams& query, const HeaderList& headers, const Param& p,
            const std::string** value, std::string* error) {
  *value = nullptr;
  int seen = 0;
  for (const auto& [k, v] : query) {
    if (k == p.query) *value = &v, ++seen;
  }
  for (const auto& [k, v] : headers) {
    if (IEquals(k, p.header)) *value = &v, ++seen;
  }
  if (seen > 1) {
    *error = std::string(p.query) + " is given more than once (query parameter " + p.query +
             " or header " + p.header + ")";
    return false;
  }
  return true;
}

bool ParseUint(const std::string& text, uint64_t max, uint64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && *out <= max;
}

bool UintParam(const QueryParams& query, const HeaderList& headers, const Param& p, uint64_t max,
               uint64_t* out, bool* given, std::string* error) {
  const std::string* v = nullptr;
  if (!Lookup(query, headers, p, &v, error)) return false;
  *given = v != nullptr;
  if (v == nullptr) return true;
  if (!ParseUint(*v, max, out)) {
    *error = std::string(p.query) + " must be a whole number from 0 to " + std::to_string(max);
    return false;
  }
  return true;
}

}  // namespace

bool ParseEnqueueParams(const QueryParams& query, const HeaderList& headers, EnqueueOptions* out,
                        std::string* error) {
  *out = EnqueueOptions{};
  for (const auto& [k, v] : query) {
    const bool known = k == kPriority.query || k == kType.query || k == kDelayMs.query ||
                       k == kRunAt.query || k == kMaxAttempts.query || k == kTimeoutMs.query ||
                       k.rfind(kHeaderQueryPrefix, 0) == 0;
    if (!known) {
      *error = "unknown query parameter '" + k + "' (see docs/http.md)";
      return false;
    }
  }
  uint64_t n = 0;
  bool given = false;
  if (!UintParam(query, headers, kPriority, kMaxPriority, &n, &given, error)) return false;
  if (given) out->priority = static_cast<int>(n);
  if (!UintParam(query, headers, kMaxAttempts, 255, &n, &given, error)) return false;
  if (given) out->max_attempts = static_cast<uint32_t>(n);
  if (!UintParam(query, headers, kTimeoutMs, UINT32_MAX, &n, &given, error)) return false;
  if (given) out->timeout_ms = static_cast<uint32_t>(n);
  if (!UintParam(query, headers, kDelayMs, UINT64_MAX / 1'000'000, &n, &given, error)) {
    return false;
  }
  if (given) out->delay_ms = n;

  const std::string* v = nullptr;
  if (!Lookup(query, headers, kType, &v, error)) return false;
  if (v != nullptr) out->type = *v;
  if (!Lookup(query, headers, kRunAt, &v, error)) return false;
  if (v != nullptr) {
    const Status s = util::ParseRfc3339(*v, &out->run_at_unix_ns);
    if (!s.ok()) {
      *error = "run_at: " + std::string(s.message());
      return false;
    }
  }
  // Job headers: both spellings add; the library checks names, values and how many.
  for (const auto& [k, val] : query) {
    if (k.rfind(kHeaderQueryPrefix, 0) == 0) {
      out->headers.emplace_back(k.substr(kHeaderQueryPrefix.size()), val);
    }
  }
  for (const auto& [k, val] : headers) {
    if (IStartsWith(k, kHeaderHeaderPrefix) && k.size() > kHeaderHeaderPrefix.size()) {
      out->headers.emplace_back(k.substr(kHeaderHeaderPrefix.size()), val);
    }
  }
  if (out->headers.size() > kMaxHeaders) {
    *error = "more than " + std::to_string(kMaxHeaders) + " job headers";
    return false;
  }
  for (const auto& [k, val] : headers) {
    if (IEquals(k, "Idempotency-Key")) {
      if (!out->idempotency_key.empty()) {
        *error = "Idempotency-Key is given more than once";
        return false;
      }
      out->idempotency_key = val;
    }
  }
  return true;
}

}  // namespace taskring::http
