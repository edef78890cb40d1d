// The gateway's listening socket and io threads: accepts connections up to --max-connections
// (past that, each new one gets a canned 503 and is closed at once) and runs until Stop() or
// SIGTERM / SIGINT.
#ifndef TASKRING_HTTP_SERVER_H_
#define TASKRING_HTTP_SERVER_H_

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "http/gateway.h"
#include "http/gateway_options.h"
#include "http/listen_address.h"
#include "taskring/status.h"

namespace taskring::http {

class Server {
 public:
  // Binds --listen: InvalidArgument for a bad address or a non-loopback one without a token,
  // IOError if it cannot bind.
  [[nodiscard]] static Status Open(const GatewayOptions& options, std::unique_ptr<Server>* out);
  ~Server();  // stops the pools, then drops pending handlers, then the gateway
  uint16_t port() const { return port_; }
  // "http://HOST:PORT": what the gateway prints once it listens.
  std::string url() const { return "http://" + HostPort(listen_, port_); }
  // Serves on options.io_threads threads until SIGTERM/SIGINT or Stop().
  void Run();
  void Stop();

 private:
  Server(const GatewayOptions& options, const ListenAddress& listen);
  void RunLoop();  // one io thread
  void Accept();
  void Refuse(net::ip::tcp::socket socket);
  void SampleSoon();  // the history sampler (history.h), every History::kIntervalMs

  GatewayOptions options_;
  ListenAddress listen_;
  // Declared before the io_context, so it outlives the handlers the io_context still holds
  // (connections refer to it) when it is destroyed; and its pools stop first (~Server).
  std::unique_ptr<Gateway> gateway_;
  std::atomic<uint32_t> open_{0};
  net::io_context ioc_;
  net::ip::tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer accept_backoff_;
  net::steady_timer sampler_;
  uint16_t port_ = 0;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_SERVER_H_
