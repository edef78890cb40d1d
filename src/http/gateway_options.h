// What `taskring http` is configured with: every limit the gateway enforces on clients, with the
// flag that sets it (src/cli/http_command.cc) and its default.
#ifndef TASKRING_HTTP_GATEWAY_OPTIONS_H_
#define TASKRING_HTTP_GATEWAY_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace taskring::http {

struct GatewayOptions {
  // --listen HOST:PORT; port 0 picks a free one (printed on stdout once listening).
  std::string listen = "127.0.0.1:8080";
  // --queue NAME...: the queues served; empty serves any queue whose daemon runs on this host.
  std::vector<std::string> queues;
  // --allow-host NAME: more names (with or without :PORT) clients may send as Host / Origin,
  // e.g. the name a reverse proxy forwards; the listen address is always allowed.
  std::vector<std::string> allowed_hosts;
  // From --token-file: the bearer token every request must carry; empty: none (loopback only).
  std::string bearer_token;
  uint32_t max_connections = 256;  // --max-connections: more are answered 503, closed
  // --max-body: never read more, whatever the queue. With max_connections, it bounds the memory
  // requests can hold: one request per connection, 256 MiB by default.
  uint64_t max_body_bytes = 1u << 20;
  uint32_t max_header_bytes = 16 * 1024;  // --max-header-bytes: request line + headers
  uint32_t header_timeout_ms = 10'000;    // --header-timeout-ms: a request's headers, or idle
  uint32_t body_timeout_ms = 30'000;      // --body-timeout-ms: a request's body
  uint32_t write_timeout_ms = 30'000;     // answering a client that does not read
  uint32_t producers_per_queue = 4;       // --producers: enqueue threads per queue
  uint32_t max_pending_per_queue = 1024;  // --max-pending: enqueues waiting for a producer
  uint32_t max_wait_s = 60;               // --max-wait: bound of ?wait=S
  uint32_t wait_poll_ms = 50;             // how often a long poll re-reads the status
  uint32_t io_threads = 1;                // --io-threads
  // --read-only: every route that changes something (enqueue, cancel, the pages' actions)
  // answers 403 read_only, and the pages show their buttons disabled.
  bool read_only = false;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_GATEWAY_OPTIONS_H_
