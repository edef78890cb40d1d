#include "http/route.h"

namespace taskring::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: %XX escapes and '+' for a space.
bool Decode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out->push_back(' ');
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;  // needs two hex digits after it
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(in[i]);
    }
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    parts.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

}  // namespace

const char* RouteLabel(RouteKind kind) {
  switch (kind) {
    case RouteKind::kJobs: return "enqueue";
    case RouteKind::kJob: return "job";
    case RouteKind::kJobResult: return "result";
    case RouteKind::kQueue: return "queue";
    case RouteKind::kHealth: return "healthz";
    case RouteKind::kMetrics: return "metrics";
    case RouteKind::kRoot: return "page";
    case RouteKind::kQueues: return "queues";
    case RouteKind::kRunning:
    case RouteKind::kDelayed:
    case RouteKind::kFailures:
    case RouteKind::kHistory: return "lists";
    case RouteKind::kDead: return "dead";
    case RouteKind::kDeadRequeueAll:
    case RouteKind::kDeadPurgeAll:
    case RouteKind::kDeadRequeue:
    case RouteKind::kDeadPurge:
    case RouteKind::kJobCancel: return "action";
    case RouteKind::kLogin:
    case RouteKind::kScript: return "page";
    case RouteKind::kNotFound: break;
  }
  return "other";
}

bool IsAction(RouteKind kind) {
  switch (kind) {
    case RouteKind::kDeadRequeueAll:
    case RouteKind::kDeadPurgeAll:
    case RouteKind::kDeadRequeue:
    case RouteKind::kDeadPurge:
    case RouteKind::kJobCancel: return true;
    default: return false;
  }
}

bool ParseUrlEncoded(std::string_view text, QueryParams* out, std::string* error) {
  if (text.empty()) return true;
  const std::vector<std::string_view> pairs = Split(text, '&');
  if (pairs.size() > kMaxQueryParams) {
    *error = "more than " + std::to_string(kMaxQueryParams) + " query parameters";
    return false;
  }
  for (std::string_view pair : pairs) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key, value;
    if (!Decode(pair.substr(0, eq), &key) ||
        (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), &value))) {
      *error = "malformed %-escape in the query";
      return false;
    }
    out->emplace_back(std::move(key), std::move(value));
  }
  return true;
}

const std::string* FindParam(const QueryParams& q, std::string_view name) {
  for (const auto& [k, v] : q) {
    if (k == name) return &v;
  }
  return nullptr;
}

bool ParseTarget(std::string_view target, Route* out, std::string* error) {
  *out = Route{};
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  if (qmark != std::string_view::npos && qmark + 1 < target.size() &&
      !ParseUrlEncoded(target.substr(qmark + 1), &out->query, error)) {
    return false;
  }
  if (path == "/healthz") {
    out->kind = RouteKind::kHealth;
    return true;
  }
  if (path == "/metrics") {
    out->kind = RouteKind::kMetrics;
    return true;
  }
  if (path == "/") {
    out->kind = RouteKind::kRoot;
    return true;
  }
  if (path == "/login") {
    out->kind = RouteKind::kLogin;
    return true;
  }
  if (path == "/ui.js") {
    out->kind = RouteKind::kScript;
    return true;
  }
  if (path == "/queues") {
    out->kind = RouteKind::kQueues;
    return true;
  }
  // "/queues/{q}[/jobs[/{token}[/result]]]"; a trailing slash names nothing.
  const std::vector<std::string_view> seg = Split(path, '/');
  if (seg.size() < 3 || !seg[0].empty() || seg[1] != "queues" || seg[2].empty()) return true;
  for (std::string_view s : seg) {
    if (s.find('%') != std::string_view::npos) return true;  // queue names and tokens need none
  }
  for (size_t i = 3; i < seg.size(); ++i) {
    if (seg[i].empty()) return true;  // "//" or a trailing slash
  }
  out->queue = std::string(seg[2]);
  const size_t n = seg.size();
  if (n == 3) {
    out->kind = RouteKind::kQueue;
  } else if (seg[3] == "jobs") {
    if (n == 4) out->kind = RouteKind::kJobs;
    if (n >= 5) out->token = std::string(seg[4]);
    if (n == 5) out->kind = RouteKind::kJob;
    if (n == 6 && seg[5] == "result") out->kind = RouteKind::kJobResult;
    if (n == 6 && seg[5] == "cancel") out->kind = RouteKind::kJobCancel;
  } else if (n == 4) {
    if (seg[3] == "running") out->kind = RouteKind::kRunning;
    if (seg[3] == "delayed") out->kind = RouteKind::kDelayed;
    if (seg[3] == "failures") out->kind = RouteKind::kFailures;
    if (seg[3] == "history") out->kind = RouteKind::kHistory;
    if (seg[3] == "dead") out->kind = RouteKind::kDead;
  } else if (seg[3] == "dead") {
    if (n == 5 && seg[4] == "requeue") out->kind = RouteKind::kDeadRequeueAll;
    if (n == 5 && seg[4] == "purge") out->kind = RouteKind::kDeadPurgeAll;
    if (n == 6) out->dead_id = std::string(seg[4]);
    if (n == 6 && seg[5] == "requeue") out->kind = RouteKind::kDeadRequeue;
    if (n == 6 && seg[5] == "purge") out->kind = RouteKind::kDeadPurge;
  }
  return true;
}

}  // namespace taskring::http
