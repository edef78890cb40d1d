// Helpers for the gateway's tests: a `taskring http` child process (its port read from the
// "listening on" line it prints), an HTTP/1.1 client on Beast's synchronous API that keeps its
// connection alive, and a raw socket for requests no well-behaved client sends.
#ifndef TASKRING_TESTS_HTTP_HTTP_TEST_UTIL_H_
#define TASKRING_TESTS_HTTP_HTTP_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace taskring::test {

// A `taskring http` child process. The destructor stops it (SIGTERM, then SIGKILL).
class GatewayProcess {
 public:
  explicit GatewayProcess(std::vector<std::string> args, std::string log_path);
  ~GatewayProcess();
  // Starts it and waits (up to 10 s) for its "listening on http://HOST:PORT" line.
  ::testing::AssertionResult Start();
  int Stop();   // SIGTERM and wait: the exit code
  void Kill();  // SIGKILL and wait
  uint16_t port() const { return port_; }
  const std::string& host() const { return host_; }
  std::string Log() const;

 private:
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::string host_;
  uint16_t port_ = 0;
};

struct HttpReply {
  int status = -1;  // -1: no answer (the error says why)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool closed = false;                         // the server said Connection: close
  std::string error;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One keep-alive connection to the gateway (reconnects after the server closed it).
class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  // Sends Host: HOST:PORT unless `headers` name a Host (an empty value: no Host at all).
  HttpReply Send(boost::beast::http::verb method, const std::string& target,
                 const std::string& body = "", const Headers& headers = {});
  HttpReply Get(const std::string& target, const Headers& headers = {}) {
    return Send(boost::beast::http::verb::get, target, "", headers);
  }
  HttpReply Post(const std::string& target, const std::string& body, const Headers& headers = {}) {
    return Send(boost::beast::http::verb::post, target, body, headers);
  }
  HttpReply Delete(const std::string& target) {
    return Send(boost::beast::http::verb::delete_, target);
  }
  // How many TCP connections this client opened so far (keep-alive reuses one).
  int connections() const { return connections_; }

 private:
  std::string host_;
  uint16_t port_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::ip::tcp::socket> socket_;
  boost::beast::flat_buffer buffer_;
  int connections_ = 0;
};

// A plain TCP connection for malformed and slow requests.
class RawSocket {
 public:
  RawSocket(const std::string& host, uint16_t port);
  ~RawSocket();
  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& bytes);  // false once the peer is gone
  // Reads until the peer closes or `timeout_ms` passes; *closed says which.
  std::string ReadAll(int timeout_ms, bool* closed);
  // Reads until what arrived holds `needle` `count` times, the peer closes, or 10 s pass.
  std::string ReadUntil(const std::string& needle, int count);
  void Close();

 private:
  int fd_ = -1;
};

}  // namespace taskring::test

#endif  // TASKRING_TESTS_HTTP_HTTP_TEST_UTIL_H_
