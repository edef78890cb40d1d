// taskring http: the HTTP gateway (src/http): POST a job, poll it, fetch its result, cancel it,
// with curl or any HTTP client on the host. A separate process that is only a client of the
// daemons: its crash touches no queue.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "http/server.h"
#include "segment/queue_names.h"
#include "util/flags.h"

namespace taskring::cli {
namespace {

constexpr const char* kDescription =
    "Serves queues over HTTP (docs/http.md):\n"
    "  POST   /queues/Q/jobs                 body = payload -> 202 + Location (503 + Retry-After\n"
    "                                        when full, 413 too large, 404 no such queue)\n"
    "  GET    /queues/Q/jobs/TOKEN[?wait=S]  status and progress; 303 to .../result when done\n"
    "  GET    /queues/Q/jobs/TOKEN/result    the result bytes\n"
    "  DELETE /queues/Q/jobs/TOKEN           cancel: 200 cancelled, 202 requested, 409 finished\n"
    "  GET    /queues/Q, /healthz, /metrics\n"
    "  GET    /  (in a browser)              the web page: queues, jobs, dead letters (requeue,\n"
    "                                        purge, cancel; JSON routes for it in docs/http.md)\n"
    "Listens on loopback unless told otherwise; any other address needs --token-file. Requests\n"
    "whose Host or Origin is not the gateway's own are refused (403). Prints\n"
    "'listening on http://HOST:PORT' on stdout once it serves.";

// The bearer token: the file's first line, without surrounding blanks; at least 16 visible
// ASCII characters, so a typo'd empty file cannot open the gateway to everyone.
Status ReadToken(const std::string& path, std::string* token) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read --token-file " + path);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    std::fprintf(stderr, "taskring http: warning: --token-file %s is readable by every user\n",
                 path.c_str());
  }
  std::string line;
  std::getline(in, line);
  const size_t b = line.find_first_not_of(" \t\r");
  const size_t e = line.find_last_not_of(" \t\r");
  *token = b == std::string::npos ? "" : line.substr(b, e - b + 1);
  if (token->size() < 16) {
    return Status::InvalidArgument("--token-file " + path +
                                   ": the token must be at least 16 characters");
  }
  for (char c : *token) {
    if (c < 0x21 || c > 0x7e) {
      return Status::InvalidArgument("--token-file " + path +
                                     ": the token must be visible ASCII characters");
    }
  }
  return Status::OK();
}

}  // namespace

int HttpCommand(int argc, char** argv) {
  const std::string cmd = "http";
  http::GatewayOptions o;
  std::string token_file;
  uint64_t max_connections = o.max_connections, max_body = o.max_body_bytes,
           max_header = o.max_header_bytes, header_timeout = o.header_timeout_ms,
           body_timeout = o.body_timeout_ms, producers = o.producers_per_queue,
           max_pending = o.max_pending_per_queue, max_wait = o.max_wait_s,
           io_threads = o.io_threads;
  util::FlagSet flags(
      "taskring http [--listen HOST:PORT] [--queue NAME]... [--token-file F] [flags]",
      kDescription);
  flags.String("listen", &o.listen,
               "address to serve, a numeric IP and port; port 0 = any free one (127.0.0.1:8080)");
  flags.StringList("queue", &o.queues,
                   "serve this queue (repeatable); default: any queue whose daemon runs here");
  flags.StringList("allow-host", &o.allowed_hosts,
                   "another name clients may send as Host/Origin, e.g. a proxy's (repeatable)");
  flags.String("token-file", &token_file,
               "require 'Authorization: Bearer TOKEN', TOKEN being this file's first line "
               "(required off loopback)");
  flags.Uint("max-connections", &max_connections, 1, 1'000'000,
             "open connections; more are answered 503 and closed (256)");
  flags.Uint("max-body", &max_body, 1, 1ull << 32,
             "bytes of a request body, whatever the queue (1 MiB); a queue's own max payload "
             "also applies (413). Requests in memory: at most --max-connections of these");
  flags.Uint("max-header-bytes", &max_header, 512, 1 << 20,
             "bytes of the request line and headers (16384; more: 431)");
  flags.Uint("header-timeout-ms", &header_timeout, 10, 3'600'000,
             "a connection that sends no complete request headers for this long is closed "
             "(10000; slow clients, idle keep-alive)");
  flags.Uint("body-timeout-ms", &body_timeout, 10, 3'600'000,
             "time to receive a request body (30000)");
  flags.Uint("producers", &producers, 1, 256,
             "enqueue threads per queue, each with its own Producer (4)");
  flags.Uint("max-pending", &max_pending, 1, 1'000'000,
             "enqueues waiting for a producer thread per queue; more are answered 503 (1024)");
  flags.Uint("max-wait", &max_wait, 0, 3600, "longest ?wait=S long poll, in seconds (60)");
  flags.Uint("io-threads", &io_threads, 1, 64, "threads serving connections (1)");
  flags.Bool("read-only", &o.read_only,
             "refuse every change (enqueue, cancel, dead-letter requeue/purge) with 403; the web "
             "page shows its buttons disabled");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  for (const std::string& q : o.queues) {
    s = segment::ValidateQueueName(q);
    if (!s.ok()) return Error(cmd, "--queue " + q + ": " + std::string(s.message()), 2);
  }
  if (!token_file.empty()) {
    s = ReadToken(token_file, &o.bearer_token);
    if (!s.ok()) return Error(cmd, std::string(s.message()), 2);
  }
  o.max_connections = static_cast<uint32_t>(max_connections);
  o.max_body_bytes = max_body;
  o.max_header_bytes = static_cast<uint32_t>(max_header);
  o.header_timeout_ms = static_cast<uint32_t>(header_timeout);
  o.body_timeout_ms = static_cast<uint32_t>(body_timeout);
  o.producers_per_queue = static_cast<uint32_t>(producers);
  o.max_pending_per_queue = static_cast<uint32_t>(max_pending);
  o.max_wait_s = static_cast<uint32_t>(max_wait);
  o.io_threads = static_cast<uint32_t>(io_threads);

  std::unique_ptr<http::Server> server;
  s = http::Server::Open(o, &server);
  if (!s.ok()) return Error(cmd, std::string(s.message()), s.IsInvalidArgument() ? 2 : 1);
  std::printf("listening on %s\n", server->url().c_str());
  std::fflush(stdout);
  server->Run();
  return 0;
}

}  // namespace taskring::cli
