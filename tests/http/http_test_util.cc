#include "http/http_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

#include "harness/process.h"
#include "test_util.h"

namespace taskring::test {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using net::ip::tcp;

GatewayProcess::GatewayProcess(std::vector<std::string> args, std::string log_path)
    : args_(std::move(args)), log_path_(std::move(log_path)) {}

GatewayProcess::~GatewayProcess() { Stop(); }

::testing::AssertionResult GatewayProcess::Start() {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return ::testing::AssertionFailure() << "pipe";
  std::vector<std::string> argv = {BinDir() + "/taskring", "http"};
  argv.insert(argv.end(), args_.begin(), args_.end());
  harness::SpawnOptions o;
  o.stdout_fd = out[1];
  o.stderr_path = log_path_;
  pid_ = harness::Spawn(argv, o);
  ::close(out[1]);
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  constexpr std::string_view kPrefix = "listening on http://";
  const size_t at = line.find(kPrefix);
  const size_t colon = line.rfind(':');
  if (at == std::string::npos || colon == std::string::npos || colon < at + kPrefix.size()) {
    Stop();
    return ::testing::AssertionFailure() << "gateway did not start: '" << line << "' " << Log();
  }
  host_ = line.substr(at + kPrefix.size(), colon - at - kPrefix.size());
  port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
  return ::testing::AssertionSuccess();
}

int GatewayProcess::Stop() {
  if (pid_ < 0) return -1;
  const int code = harness::TerminateAndWait(pid_, std::chrono::seconds(5));
  pid_ = -1;
  return code;
}

void GatewayProcess::Kill() {
  if (pid_ >= 0) harness::KillAndWait(pid_);
  pid_ = -1;
}

std::string GatewayProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HttpReply HttpClient::Send(bhttp::verb method, const std::string& target, const std::string& body,
                           const Headers& headers) {
  HttpReply reply;
  bhttp::request<bhttp::string_body> req{method, target, 11};
  bool host_given = false;
  for (const auto& [k, v] : headers) {
    if (boost::beast::iequals(k, "host")) {
      host_given = true;
      if (v.empty()) continue;
    }
    req.set(k, v);
  }
  if (!host_given) req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  req.body() = body;
  if (method == bhttp::verb::post || !body.empty()) req.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    boost::system::error_code ec;
    const bool reused = socket_.has_value();
    if (!socket_) {
      socket_.emplace(ioc_);
      socket_->connect(tcp::endpoint(net::ip::make_address(host_), port_), ec);
      if (ec) {
        socket_.reset();
        reply.error = "connect: " + ec.message();
        return reply;
      }
      ++connections_;
      buffer_.clear();
      timeval tv{15, 0};  // a hung gateway fails the test instead of hanging it
      ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    bhttp::write(*socket_, req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) bhttp::read(*socket_, buffer_, res, ec);
    if (ec) {
      socket_.reset();
      reply.error = ec.message();
      if (reused) continue;  // the server had closed the idle connection: one fresh try
      return reply;
    }
    reply.status = static_cast<int>(res.result_int());
    reply.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = std::string(f.value());
    }
    reply.closed = !res.keep_alive();
    if (reply.closed) socket_.reset();
    reply.error.clear();
    return reply;
  }
  return reply;
}

RawSocket::RawSocket(const std::string& host, uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) Close();
}

RawSocket::~RawSocket() { Close(); }

void RawSocket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawSocket::Send(const std::string& bytes) {
  size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return fd_ >= 0;
}

std::string RawSocket::ReadUntil(const std::string& needle, int count) {
  std::string out;
  auto found = [&] {
    int n = 0;
    for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1)) ++n;
    return n >= count;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fd_ >= 0 && !found() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string RawSocket::ReadAll(int timeout_ms, bool* closed) {
  std::string out;
  *closed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (fd_ >= 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      *closed = true;  // EOF, or a reset: either way the server let go
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace taskring::test
