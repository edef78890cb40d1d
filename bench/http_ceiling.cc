// taskring-http-ceiling: the HTTP gateway with no queue behind it, the ceiling that
// tools/bench-http.sh measures `taskring http` against (issue 14).
//
// It is the gateway's own server: src/http/server.cc and connection.cc are linked in unchanged
// from the taskring_http library (same Beast parser, same io threads and strands, same
// header/body limits and timeouts, same metrics per request), and so are the Host/Origin/token
// guard and the URL parser. Only the Gateway's constructor and its two entry points are defined
// here, so the linker takes nothing from src/http/gateway*.cc:
//  * Admit: the same guard check and route parsing; a POST to /queues/{q}/jobs is admitted for
//    any q with the --max-body limit (no queue lookup).
//  * Handle: every POST /queues/{q}/jobs is answered through the same Reply path (a post to the
//    connection's strand) with 202, Location and the same JSON object the gateway builds (with
//    nlohmann), from a counter and a fixed token: no producer pool, no daemon, no WAL.
// So gateway / ceiling is the cost of what is behind the server: the queue lookup, the job
// options' parsing, the hop to a producer thread and back, the enqueue (daemon, WAL) and the
// job's status read for the answer.
//
//   taskring-http-ceiling [--listen 127.0.0.1:PORT] [--io-threads N] [--max-connections N]
#include <atomic>
#include <cstdio>
#include <string>

#include "http/gateway.h"
#include "http/job_json.h"
#include "http/responses.h"
#include "http/server.h"
#include "util/flags.h"

namespace taskring::http {
namespace {

// Same shape as a job token (id and 96 random bits, 40 hex digits).
constexpr const char* kToken = "00000000000000010123456789abcdef01234567";
std::atomic<uint64_t> next_id{1};

std::string_view Header(const Request& req, bhttp::field f) {
  const auto it = req.find(f);
  return it == req.end() ? std::string_view()
                         : std::string_view(it->value().data(), it->value().size());
}

}  // namespace

Gateway::Gateway(const GatewayOptions& options, RequestGuard guard)
    : options_(options), guard_(std::move(guard)), registry_(options) {}

std::optional<Response> Gateway::Admit(const Request& req, Route* route, uint64_t* body_limit) {
  *body_limit = 4096;
  const bool has_origin = req.find(bhttp::field::origin) != req.end();
  if (guard_.Check(Header(req, bhttp::field::host), has_origin, Header(req, bhttp::field::origin),
                   Header(req, bhttp::field::authorization)) != RequestGuard::Verdict::kAllow) {
    return ErrorResponse(bhttp::status::forbidden, "refused by the request guard", "bad_host");
  }
  std::string error;
  if (!ParseTarget(std::string_view(req.target().data(), req.target().size()), route, &error)) {
    return ErrorResponse(bhttp::status::bad_request, error, "bad_query");
  }
  if (route->kind == RouteKind::kJobs && req.method() == bhttp::verb::post) {
    *body_limit = options_.max_body_bytes;
    return std::nullopt;
  }
  if (route->kind == RouteKind::kHealth || route->kind == RouteKind::kMetrics) return std::nullopt;
  return ErrorResponse(bhttp::status::not_found, "the ceiling serves POST /queues/Q/jobs only",
                       "no_route");
}

void Gateway::Handle(Request&& req, const Route& route, Reply reply, const net::any_io_executor&) {
  if (route.kind == RouteKind::kHealth) {
    return reply(JsonResponse(bhttp::status::ok, Json{{"status", "ok"}}));
  }
  if (route.kind == RouteKind::kMetrics) {
    Response res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
    res.body() = metrics_.Serialize();
    return reply(std::move(res));
  }
  (void)req;
  const std::string path = JobPath(route.queue, kToken);
  Json j;
  j["id"] = next_id.fetch_add(1, std::memory_order_relaxed);
  j["token"] = kToken;
  j["state"] = "queued";
  j["status_url"] = path;
  j["duplicate"] = false;
  Response res = JsonResponse(bhttp::status::accepted, j);
  res.set(bhttp::field::location, path);
  reply(std::move(res));
}

}  // namespace taskring::http

int main(int argc, char** argv) {
  taskring::http::GatewayOptions o;
  o.listen = "127.0.0.1:0";
  uint64_t io_threads = o.io_threads, max_connections = o.max_connections;
  taskring::util::FlagSet flags(
      "taskring-http-ceiling [--listen HOST:PORT] [--io-threads N] [--max-connections N]",
      "The gateway's server answering every POST /queues/Q/jobs with a fixed 202: no queue.");
  flags.String("listen", &o.listen, "address to serve; port 0 = any free one (127.0.0.1:0)");
  flags.Uint("io-threads", &io_threads, 1, 64, "threads serving connections (1)");
  flags.Uint("max-connections", &max_connections, 1, 1'000'000, "open connections (256)");
  taskring::Status s = flags.Parse(argc, argv, 1);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "taskring-http-ceiling: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  o.io_threads = static_cast<uint32_t>(io_threads);
  o.max_connections = static_cast<uint32_t>(max_connections);
  std::unique_ptr<taskring::http::Server> server;
  s = taskring::http::Server::Open(o, &server);
  if (!s.ok()) {
    std::fprintf(stderr, "taskring-http-ceiling: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("listening on %s\n", server->url().c_str());
  std::fflush(stdout);
  server->Run();
  return 0;
}
