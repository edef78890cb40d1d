#include "http/connection.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>

#include "http/responses.h"
#include "util/clock.h"

namespace taskring::http {
namespace {

namespace beast = boost::beast;
using std::chrono::milliseconds;

constexpr size_t kMaxDrainBytes = 1 << 20;  // read and dropped before closing
constexpr milliseconds kDrainTime{500};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

Connection::Connection(net::ip::tcp::socket socket, Gateway& gateway, std::atomic<uint32_t>& open)
    : stream_(std::move(socket)), gateway_(gateway), open_(open) {
  gateway_.metrics().ConnectionOpened();
}

Connection::~Connection() {
  gateway_.metrics().ConnectionClosed();
  open_.fetch_sub(1, std::memory_order_relaxed);
}

void Connection::Start() {
  // Run on the connection's own strand (the socket's executor), as every later step does.
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
}

void Connection::ReadHeader() {
  const GatewayOptions& o = gateway_.options();
  parser_.emplace();
  parser_->header_limit(o.max_header_bytes);
  // The absolute bound, checked against Content-Length with the headers; lowered to the
  // route's own limit once Admit knows it.
  parser_->body_limit(o.max_body_bytes);
  stream_.expires_after(milliseconds(o.header_timeout_ms));
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Connection::OnHeader(beast::error_code ec) {
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == bhttp::error::partial_message) {
    // Gone, idle too long, or too slow to send its headers: nothing worth answering.
    return Close();
  }
  if (ec == bhttp::error::header_limit) {
    return Fail(
        bhttp::status::request_header_fields_too_large,
        "request headers exceed " + std::to_string(gateway_.options().max_header_bytes) + " bytes",
        "headers_too_large");
  }
  if (ec == bhttp::error::body_limit) {
    return Fail(bhttp::status::payload_too_large,
                "request body exceeds --max-body (" +
                    std::to_string(gateway_.options().max_body_bytes) + " bytes)",
                "too_large");
  }
  if (ec)
    return Fail(bhttp::status::bad_request, "malformed request: " + ec.message(), "malformed");
  const Request& req = parser_->get();
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  uint64_t body_limit = 0;
  std::optional<Response> refused = gateway_.Admit(req, &route_, &body_limit);
  if (refused) {
    started_ns_ = util::NowMonoNs();
    // Without a body the connection stays usable; with one, it is not read: close after.
    return Write(std::move(*refused), !parser_->is_done());
  }
  parser_->body_limit(body_limit);
  if (!parser_->is_done() && beast::iequals(req[bhttp::field::expect], "100-continue")) {
    // The client waits for this before it sends the body (curl does for large ones).
    stream_.expires_after(milliseconds(gateway_.options().write_timeout_ms));
    return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->ReadBody();
                            });
  }
  ReadBody();
}

void Connection::ReadBody() {
  stream_.expires_after(milliseconds(gateway_.options().body_timeout_ms));
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
}

void Connection::OnBody(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    return Fail(bhttp::status::payload_too_large, "request body exceeds the limit", "too_large");
  }
  if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
      ec == bhttp::error::partial_message || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted) {
    return Close();  // the client went away or stalled mid-body
  }
  if (ec) return Fail(bhttp::status::bad_request, "malformed body: " + ec.message(), "malformed");
  stream_.expires_never();  // the answer may take a while (a long poll); the write re-arms it
  started_ns_ = util::NowMonoNs();
  auto self = shared_from_this();
  const net::any_io_executor ex = stream_.get_executor();
  Reply reply = [self, ex](Response res) {
    net::post(ex, [self, res = std::move(res)]() mutable { self->Write(std::move(res), false); });
  };
  gateway_.Handle(parser_->release(), route_, std::move(reply), ex);
}

void Connection::Write(Response res, bool close) {
  gateway_.metrics().Observe(RouteLabel(route_.kind), gateway_.QueueLabel(route_), res.result_int(),
                             static_cast<double>(util::NowMonoNs() - started_ns_) / 1e9);
  close = close || !keep_alive_;
  res.version(version_);
  res.keep_alive(!close);
  res.set(bhttp::field::server, "taskring");
  res.prepare_payload();
  writing_ = std::make_shared<Response>(std::move(res));
  stream_.expires_after(milliseconds(gateway_.options().write_timeout_ms));
  bhttp::async_write(stream_, *writing_,
                     [self = shared_from_this(), close](beast::error_code ec, size_t) {
                       self->OnWrite(ec, close);
                     });
}

void Connection::OnWrite(beast::error_code ec, bool close) {
  writing_.reset();
  if (ec || close) return Close();
  route_ = Route{};
  ReadHeader();
}

void Connection::Fail(bhttp::status code, const std::string& message, const std::string& reason) {
  started_ns_ = util::NowMonoNs();
  Write(ErrorResponse(code, message, reason), /*close=*/true);
}

void Connection::Close() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec) return stream_.close();
  drained_ = 0;
  stream_.expires_after(kDrainTime);
  Drain();
}

void Connection::Drain() {
  stream_.async_read_some(net::buffer(drain_buf_),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ >= kMaxDrainBytes) {
                              self->stream_.close();
                              return;
                            }
                            self->Drain();
                          });
}

}  // namespace taskring::http
