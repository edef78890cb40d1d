// One client connection: reads requests with Beast under the gateway's limits, hands each to
// Gateway, writes the answers, keeps the connection alive between requests.
//
// Limits, each ending the connection rather than letting one client hold resources:
//  * the request line and headers: at most max_header_bytes (431), within header_timeout_ms of
//    waiting for them (a slowloris client, or an idle keep-alive connection, is closed);
//  * the body: at most the route's limit (Gateway::Admit; 413, refused from Content-Length
//    before any body byte is read), within body_timeout_ms;
//  * malformed requests: 400 and close; a client that stops reading: write_timeout_ms.
// One request at a time per connection (no pipelining): the next is read once the answer is out.
#ifndef TASKRING_HTTP_CONNECTION_H_
#define TASKRING_HTTP_CONNECTION_H_

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <memory>
#include <optional>

#include "http/gateway.h"
#include "http/http_types.h"
#include "http/route.h"

namespace taskring::http {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `open`: the server's count of open connections, decremented when this one is destroyed.
  Connection(net::ip::tcp::socket socket, Gateway& gateway, std::atomic<uint32_t>& open);
  ~Connection();
  void Start();

 private:
  void ReadHeader();
  void OnHeader(boost::beast::error_code ec);
  void ReadBody();
  void OnBody(boost::beast::error_code ec);
  // Writes `res`; then reads the next request, or closes when `close` or the client asked.
  void Write(Response res, bool close);
  void OnWrite(boost::beast::error_code ec, bool close);
  // Answers a request that could not be read (400, 413, 431) and closes.
  void Fail(bhttp::status code, const std::string& message, const std::string& reason);
  // Stops sending, then reads and drops what the client still sends for a moment before
  // closing, so it sees the answer rather than a reset.
  void Close();
  void Drain();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Gateway& gateway_;
  std::atomic<uint32_t>& open_;
  Route route_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  uint64_t started_ns_ = 0;  // the request's last byte: its latency starts here
  std::shared_ptr<Response> writing_;
  std::array<char, 4096> drain_buf_{};
  size_t drained_ = 0;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_CONNECTION_H_
