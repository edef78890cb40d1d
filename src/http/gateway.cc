// What a request may do once its headers are in (Admit), which route answers it (Handle), and
// the small routes: the queue's numbers, health, metrics. The job routes are in
// gateway_enqueue.cc and gateway_jobs.cc.
#include "http/gateway.h"

#include <algorithm>

#include "http/content_negotiation.h"
#include "http/csrf.h"
#include "http/pages.h"
#include "http/responses.h"

namespace taskring::http {
namespace {

constexpr uint64_t kNonEnqueueBodyLimit = 4096;  // other routes read (and ignore) a small body

std::string_view Header(const Request& req, bhttp::field f) {
  const auto it = req.find(f);
  return it == req.end() ? std::string_view()
                         : std::string_view(it->value().data(), it->value().size());
}

Response MethodNotAllowed(const char* allow) {
  Response res = ErrorResponse(bhttp::status::method_not_allowed,
                               std::string("method not allowed; use ") + allow);
  res.set(bhttp::field::allow, allow);
  return res;
}

Response ReadOnly() {
  return ErrorResponse(bhttp::status::forbidden, "this gateway is read-only (--read-only)",
                       "read_only");
}

}  // namespace

Gateway::Gateway(const GatewayOptions& options, RequestGuard guard)
    : options_(options), guard_(std::move(guard)), csrf_(NewCsrfToken()), registry_(options) {}

std::optional<Response> Gateway::Admit(const Request& req, Route* route, uint64_t* body_limit) {
  *body_limit = kNonEnqueueBodyLimit;
  const bool has_origin = req.find(bhttp::field::origin) != req.end();
  switch (guard_.Check(Header(req, bhttp::field::host), has_origin,
                       Header(req, bhttp::field::origin), Header(req, bhttp::field::authorization),
                       Header(req, bhttp::field::cookie))) {
    case RequestGuard::Verdict::kAllow: break;
    case RequestGuard::Verdict::kBadHost:
      return ErrorResponse(bhttp::status::forbidden,
                           "Host does not name this gateway (see --allow-host)", "bad_host");
    case RequestGuard::Verdict::kBadOrigin:
      return ErrorResponse(bhttp::status::forbidden, "cross-origin requests are refused",
                           "bad_origin");
    case RequestGuard::Verdict::kUnauthorized: {
      // The login form itself needs no token; a browser elsewhere gets the form in the 401.
      std::string ignored;
      Route r;
      if (ParseTarget(std::string_view(req.target().data(), req.target().size()), &r, &ignored) &&
          r.kind == RouteKind::kLogin) {
        break;
      }
      Response res = PrefersHtml(Header(req, bhttp::field::accept))
                         ? HtmlResponse(bhttp::status::unauthorized,
                                        LoginPage(PageContext{"", options_.read_only}, ""))
                         : ErrorResponse(bhttp::status::unauthorized,
                                         "missing or wrong bearer token", "unauthorized");
      res.set(bhttp::field::www_authenticate, "Bearer");
      return res;
    }
  }
  std::string error;
  if (!ParseTarget(std::string_view(req.target().data(), req.target().size()), route, &error)) {
    return ErrorResponse(bhttp::status::bad_request, error, "bad_query");
  }
  const bhttp::verb m = req.method();
  switch (route->kind) {
    case RouteKind::kNotFound:
      return ErrorResponse(bhttp::status::not_found, "no such resource", "no_route");
    case RouteKind::kJobs: {
      if (m != bhttp::verb::post) return MethodNotAllowed("POST");
      if (options_.read_only) return ReadOnly();
      // Refused before the body is read: the queue must exist and the body fit its slots.
      QueueView q;
      const Status s = registry_.Get(route->queue, &q);
      if (!s.ok()) return StatusResponse(s);
      *body_limit = std::min<uint64_t>(q.max_payload, options_.max_body_bytes);
      // Content-Length is checked by the parser against body_limit as soon as it is read;
      // this answers with the queue's own bound in the message.
      const auto length = req.payload_size();
      if (length && *length > *body_limit) {
        return ErrorResponse(bhttp::status::payload_too_large,
                             "body of " + std::to_string(*length) + " bytes exceeds the limit of " +
                                 std::to_string(*body_limit) + " bytes (the queue's max payload)",
                             "too_large");
      }
      return std::nullopt;
    }
    case RouteKind::kLogin:
      if (m != bhttp::verb::get && m != bhttp::verb::post) return MethodNotAllowed("GET, POST");
      return std::nullopt;
    case RouteKind::kJob:
      if (m != bhttp::verb::get && m != bhttp::verb::delete_)
        return MethodNotAllowed("GET, DELETE");
      if (m == bhttp::verb::delete_ && options_.read_only) return ReadOnly();
      return std::nullopt;
    default:
      if (IsAction(route->kind)) {
        if (m != bhttp::verb::post) return MethodNotAllowed("POST");
        if (options_.read_only) return ReadOnly();
        return std::nullopt;
      }
      if (m != bhttp::verb::get) return MethodNotAllowed("GET");
      return std::nullopt;
  }
}

void Gateway::Handle(Request&& req, const Route& route, Reply reply,
                     const net::any_io_executor& ex) {
  // Browsers get pages; every other client the JSON it always got (content_negotiation.h).
  const bool html = PrefersHtml(Header(req, bhttp::field::accept));
  if (IsAction(route.kind) && !CsrfMatches(req, csrf_)) {
    return reply(
        ErrorResponse(bhttp::status::forbidden, "missing or wrong CSRF token", "bad_csrf"));
  }
  switch (route.kind) {
    case RouteKind::kJobs: return Enqueue(std::move(req), route, std::move(reply));
    case RouteKind::kJob:
      if (req.method() == bhttp::verb::delete_) return Cancel(route, std::move(reply));
      if (html && route.query.empty()) return GetJobPage(route, std::move(reply));
      return GetJob(route, std::move(reply), ex);
    case RouteKind::kJobResult: return GetResult(route, std::move(reply));
    case RouteKind::kQueue:
      if (html && route.query.empty()) return GetQueuePage(route, std::move(reply));
      return GetQueue(route, std::move(reply));
    case RouteKind::kHealth: return Health(std::move(reply));
    case RouteKind::kMetrics: {
      Response res{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
      res.body() = metrics_.Serialize();
      return reply(std::move(res));
    }
    case RouteKind::kRoot: return GetQueues(route, /*html=*/true, std::move(reply));
    case RouteKind::kQueues: return GetQueues(route, html, std::move(reply));
    case RouteKind::kRunning:
    case RouteKind::kDelayed:
    case RouteKind::kFailures: return GetList(route, std::move(reply));
    case RouteKind::kHistory: return GetHistory(route, std::move(reply));
    case RouteKind::kDead: return GetDead(route, html, std::move(reply));
    case RouteKind::kDeadRequeueAll:
    case RouteKind::kDeadPurgeAll:
    case RouteKind::kDeadRequeue:
    case RouteKind::kDeadPurge: return DeadAction(route, html, std::move(reply));
    case RouteKind::kJobCancel: return Cancel(route, std::move(reply), html);
    case RouteKind::kLogin: return Login(req, std::move(reply));
    case RouteKind::kScript: return reply(PageScriptResponse());
    case RouteKind::kNotFound: break;
  }
  reply(ErrorResponse(bhttp::status::not_found, "no such resource", "no_route"));
}

void Gateway::Login(const Request& req, Reply reply) {
  if (!guard_.NeedsToken()) {
    Response res = JsonResponse(bhttp::status::see_other, Json{{"login", "no token needed"}});
    res.set(bhttp::field::location, "/");
    return reply(std::move(res));
  }
  if (req.method() == bhttp::verb::get) {
    return reply(
        HtmlResponse(bhttp::status::ok, LoginPage(PageContext{"", options_.read_only}, "")));
  }
  QueryParams form;
  std::string error;
  const std::string* token = nullptr;
  if (ParseUrlEncoded(req.body(), &form, &error)) token = FindParam(form, "token");
  if (token == nullptr || !guard_.TokenMatches(*token)) {
    return reply(HtmlResponse(
        bhttp::status::unauthorized,
        LoginPage(PageContext{"", options_.read_only}, "That is not this gateway's token.")));
  }
  Response res = HtmlResponse(bhttp::status::see_other, "<a href=\"/\">queues</a>\n");
  res.set(bhttp::field::location, "/");
  res.set(bhttp::field::set_cookie, guard_.LoginCookie());
  reply(std::move(res));
}

void Gateway::GetQueue(const Route& route, Reply reply) {
  if (!route.query.empty()) {
    return reply(ErrorResponse(bhttp::status::bad_request, "no query parameters here", "invalid"));
  }
  QueueView q;
  const Status s = registry_.Get(route.queue, &q);
  if (!s.ok()) return reply(StatusResponse(s));
  reply(JsonResponse(bhttp::status::ok, q.entry->Stats()));
}

void Gateway::Health(Reply reply) {
  Json queues = Json::object();
  bool healthy = true;
  for (const std::string& name : registry_.Served()) {
    QueueView q;
    const Status s = registry_.Get(name, &q);
    std::string why = s.ok() ? q.entry->Unhealthy() : std::string(s.message());
    healthy = healthy && why.empty();
    queues[name] = why.empty() ? Json("ok") : Json(why);
  }
  Json j;
  j["status"] = healthy ? "ok" : "unhealthy";
  j["queues"] = queues;
  reply(JsonResponse(healthy ? bhttp::status::ok : bhttp::status::service_unavailable, j));
}

}  // namespace taskring::http
