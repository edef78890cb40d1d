#include "http/server.h"

#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

#include "http/connection.h"

namespace taskring::http {
namespace {

constexpr std::string_view kTooManyConnections =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
    "Content-Length: 64\r\nConnection: close\r\n\r\n"
    "{\"error\":\"too many connections\",\"reason\":\"too_many_connections\"}";

}  // namespace

Server::Server(const GatewayOptions& options, const ListenAddress& listen)
    : options_(options),
      listen_(listen),
      ioc_(static_cast<int>(std::max<uint32_t>(options.io_threads, 1))),
      acceptor_(net::make_strand(ioc_)),
      signals_(ioc_, SIGINT, SIGTERM),
      accept_backoff_(acceptor_.get_executor()),
      sampler_(net::make_strand(ioc_)) {}

Server::~Server() {
  ioc_.stop();
  if (gateway_ != nullptr) gateway_->StopPools();
}

Status Server::Open(const GatewayOptions& options, std::unique_ptr<Server>* out) {
  ListenAddress listen;
  Status s = ParseListenAddress(options.listen, &listen);
  if (!s.ok()) return s;
  if (!listen.loopback && options.bearer_token.empty()) {
    return Status::InvalidArgument("--listen " + options.listen +
                                   " is not a loopback address: give --token-file, so only "
                                   "clients with the token can use the queues");
  }
  std::unique_ptr<Server> server(new Server(options, listen));
  boost::system::error_code ec;
  const net::ip::tcp::endpoint endpoint(net::ip::make_address(listen.host, ec), listen.port);
  if (ec) return Status::InvalidArgument("--listen " + options.listen + ": " + ec.message());
  net::ip::tcp::acceptor& a = server->acceptor_;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) server->port_ = a.local_endpoint(ec).port();
  if (ec) return Status::IOError("cannot listen on " + options.listen + ": " + ec.message());
  server->gateway_ = std::make_unique<Gateway>(
      options, RequestGuard(listen, server->port_, options.allowed_hosts, options.bearer_token));
  *out = std::move(server);
  return Status::OK();
}

void Server::Run() {
  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) Stop();
  });
  Accept();
  SampleSoon();
  std::vector<std::thread> extra;
  for (uint32_t i = 1; i < options_.io_threads; ++i) extra.emplace_back([this] { RunLoop(); });
  RunLoop();
  for (std::thread& t : extra) t.join();
}

void Server::RunLoop() {
  // Handlers report errors by code, not by throwing; should one throw anyway (out of memory),
  // the connection it served is dropped with it and the gateway serves on.
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "taskring http: a request failed: %s\n", e.what());
    }
  }
}

void Server::Stop() { ioc_.stop(); }

void Server::SampleSoon() {
  sampler_.expires_after(std::chrono::milliseconds(History::kIntervalMs));
  sampler_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    gateway_->SampleHistory();
    SampleSoon();
  });
}

void Server::Accept() {
  // Each connection gets its own strand, so several io threads never run one connection's
  // handlers at once.
  acceptor_.async_accept(
      net::make_strand(ioc_), [this](boost::system::error_code ec, net::ip::tcp::socket socket) {
        if (ec == net::error::operation_aborted) return;
        if (!ec) {
          if (open_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
            open_.fetch_sub(1, std::memory_order_relaxed);
            Refuse(std::move(socket));
          } else {
            std::make_shared<Connection>(std::move(socket), *gateway_, open_)->Start();
          }
        }
        if (ec) {
          // Out of descriptors (EMFILE) and the like: try again shortly rather than spin.
          accept_backoff_.expires_after(std::chrono::milliseconds(50));
          accept_backoff_.async_wait([this](const boost::system::error_code& e) {
            if (!e) Accept();
          });
          return;
        }
        Accept();
      });
}

void Server::Refuse(net::ip::tcp::socket socket) {
  gateway_->metrics().ConnectionRefused();
  auto s = std::make_shared<net::ip::tcp::socket>(std::move(socket));
  // Best effort: a short answer that fits the socket buffer, then close.
  boost::system::error_code ec;
  s->non_blocking(true, ec);
  s->write_some(net::buffer(kTooManyConnections.data(), kTooManyConnections.size()), ec);
  s->shutdown(net::ip::tcp::socket::shutdown_both, ec);
  s->close(ec);
}

}  // namespace taskring::http
