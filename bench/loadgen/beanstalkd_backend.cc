// The load tool's beanstalkd backend: a small client for beanstalkd's text protocol over TCP
// (doc/protocol.txt in the beanstalkd repository). Senders `use` a tube and pipeline `put`s;
// receivers `watch` it, `reserve-with-timeout` one job and `delete` it as the acknowledgement.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <vector>

#include "loadgen/backend.h"

namespace taskring::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kConnectTimeoutMs = 2000;
// A server that sends or takes nothing for this long (beyond a reserve's own wait) is gone.
constexpr int kIoTimeoutMs = 10000;
// Reply lines are short ("RESERVED <id> <bytes>"); anything longer is not beanstalkd.
constexpr size_t kMaxLine = 256;
// Puts in flight before their replies are read. beanstalkd answers each command before it
// reads the next, so unread replies (<= ~32 bytes each) must fit in the socket buffers or
// both sides would wait on each other; 1024 of them is ~32 KB.
constexpr size_t kPutWindow = 1024;
constexpr const char* kPutPrefix = "put 1024 0 60 ";  // pri 1024, delay 0, ttr 60 s

// beanstalkd accepts tube names of 1..200 of these characters, not starting with '-'.
bool ValidTube(const std::string& name) {
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()";
  return !name.empty() && name.size() <= 200 && name[0] != '-' &&
         name.find_first_not_of(kChars) == std::string::npos;
}

// Parses a whole decimal number (no sign, no spaces).
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

// "WORD rest" -> "WORD"; the rest goes to *rest (empty without a space).
std::string_view SplitWord(std::string_view line, std::string_view* rest) {
  const size_t sp = line.find(' ');
  *rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  return line.substr(0, sp);
}

// Error replies beanstalkd may give any command; the connection stays in step after them.
bool IsServerError(std::string_view line) {
  return line == "OUT_OF_MEMORY" || line == "INTERNAL_ERROR" || line == "DRAINING" ||
         line == "EXPECTED_CRLF" || line == "JOB_TOO_BIG";
}

// Printable form of an unexpected reply for an error message.
std::string Quote(std::string_view s) {
  std::string q = "\"";
  for (char c : s.substr(0, 64)) q += (c >= 0x20 && c < 0x7f) ? c : '?';
  return q + (s.size() > 64 ? "...\"" : "\"");
}

// One TCP connection with a buffered reader. Non-blocking underneath so that every wait is
// bounded; after any failure the socket is closed and every later call fails.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { Close(); }

  Status Connect(const std::string& host, int port, size_t max_payload) {
    where_ = "beanstalkd " + host + ":" + std::to_string(port);
    if (port <= 0 || port > 65535) return Status::InvalidArgument(where_ + ": bad port");
    // Room for the largest job body plus its CRLF and a reply line, so a body always fits.
    buf_.resize(std::max<size_t>(size_t{64} * 1024, max_payload + 2 + kMaxLine));

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0) return Status::IOError(where_ + ": " + ::gai_strerror(rc));
    Status s = Status::IOError(where_ + ": no address");
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      s = ConnectOne(a);
      if (s.ok()) break;
    }
    ::freeaddrinfo(res);
    return s;
  }

  bool open() const { return fd_ >= 0; }
  const std::string& where() const { return where_; }

  Status WriteAll(std::string_view data) {
    if (fd_ < 0) return Broken();
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        Status s = Wait(POLLOUT, kIoTimeoutMs);
        if (!s.ok()) return s;
      } else {
        return Fail(std::string("send: ") + std::strerror(errno));
      }
    }
    return Status::OK();
  }

  // Reads one reply line, without its CRLF, waiting up to wait_ms for each piece of it. The view
  // is valid until the next read.
  Status ReadLine(std::string_view* line, int64_t wait_ms) {
    size_t scanned = 0;
    for (;;) {
      const std::string_view have(buf_.data() + begin_, end_ - begin_);
      const size_t eol = have.find("\r\n", scanned);
      if (eol != std::string_view::npos) {
        *line = have.substr(0, eol);
        begin_ += eol + 2;
        return Status::OK();
      }
      if (have.size() > kMaxLine) return Corrupt("reply line too long " + Quote(have));
      scanned = have.empty() ? 0 : have.size() - 1;  // a CR may end what we have
      Status s = Fill(wait_ms);
      if (!s.ok()) return s;
    }
  }

  // Reads a body of exactly n bytes (n <= the max_payload given to Connect) and its CRLF.
  Status ReadBody(size_t n, std::string* out) {
    while (end_ - begin_ < n + 2) {
      Status s = Fill(kIoTimeoutMs);
      if (!s.ok()) return s;
    }
    const char* p = buf_.data() + begin_;
    if (p[n] != '\r' || p[n + 1] != '\n') return Corrupt("job body not followed by CRLF");
    out->assign(p, n);
    begin_ += n + 2;
    return Status::OK();
  }

  // For replies that break the protocol: the stream can no longer be trusted.
  Status Corrupt(const std::string& what) {
    Close();
    return Status::Corruption(where_ + ": " + what);
  }

  // A command answered with exactly `want`, e.g. "use x" -> "USING x".
  Status Command(const std::string& cmd, std::string_view want) {
    Status s = WriteAll(cmd + "\r\n");
    std::string_view line;
    if (s.ok()) s = ReadLine(&line, kIoTimeoutMs);
    if (!s.ok()) return s;
    if (line != want) return Status::IOError(where_ + ": " + cmd + " -> " + Quote(line));
    return Status::OK();
  }

 private:
  Status ConnectOne(const addrinfo* a) {
    Close();
    fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd_ < 0) return Fail(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) return Fail(std::string("connect: ") + std::strerror(errno));
      Status s = Wait(POLLOUT, kConnectTimeoutMs);
      if (!s.ok()) return s;
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) return Fail(std::string("connect: ") + std::strerror(err));
    }
    // Small request/reply messages: send them now rather than after Nagle's delay.
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    begin_ = end_ = 0;
    return Status::OK();
  }

  // Reads whatever has arrived (at least one byte) into the buffer.
  Status Fill(int64_t wait_ms) {
    if (fd_ < 0) return Broken();
    if (begin_ > 0) {  // keep unread bytes at the front so the buffer never needs to grow
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buf_.size()) return Corrupt("reply larger than the read buffer");
    for (;;) {
      const ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
      if (n > 0) {
        end_ += static_cast<size_t>(n);
        return Status::OK();
      }
      if (n == 0) return Fail("connection closed by the server");
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return Fail(std::string("recv: ") + std::strerror(errno));
      }
      Status s = Wait(POLLIN, wait_ms);
      if (!s.ok()) return s;
    }
  }

  // Waits until the socket is ready for `events`, for at most wait_ms in all (EINTR included).
  Status Wait(short events, int64_t wait_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{fd_, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX)));
      if (n > 0) return Status::OK();  // ready, or an error the next call will report
      if (n == 0) return Fail("no answer within " + std::to_string(wait_ms) + " ms");
      if (errno != EINTR) return Fail(std::string("poll: ") + std::strerror(errno));
    }
  }

  Status Fail(const std::string& what) {
    Close();
    return Status::IOError(where_ + ": " + what);
  }
  Status Broken() const { return Status::IOError(where_ + ": connection closed after an error"); }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  std::string where_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;  // unread bytes are buf_[begin_, end_)
};

class BeanstalkdSender : public Sender {
 public:
  BeanstalkdSender(std::unique_ptr<Connection> conn, uint32_t max_payload)
      : conn_(std::move(conn)), max_payload_(max_payload) {}

  Status Send(std::span<const std::string_view> payloads, std::span<SendOutcome> out) override {
    std::fill(out.begin(), out.end(), SendOutcome::kError);
    size_t next = 0;
    while (next < payloads.size()) {
      wbuf_.clear();
      sent_.clear();
      for (; next < payloads.size() && sent_.size() < kPutWindow; ++next) {
        const std::string_view p = payloads[next];
        // The same payload limit as every other backend (beanstalkd's own default is 65535).
        if (p.size() > max_payload_) continue;
        wbuf_.append(kPutPrefix).append(std::to_string(p.size())).append("\r\n");
        wbuf_.append(p).append("\r\n");
        sent_.push_back(next);
      }
      if (sent_.empty()) continue;
      Status s = conn_->WriteAll(wbuf_);
      if (!s.ok()) return s;
      for (size_t i : sent_) {
        std::string_view line;
        s = conn_->ReadLine(&line, kIoTimeoutMs);
        if (!s.ok()) return s;
        std::string_view rest;
        const std::string_view word = SplitWord(line, &rest);
        uint64_t id;
        if (word == "INSERTED" && ParseU64(rest, &id)) {
          out[i] = SendOutcome::kAccepted;
        } else if ((word == "BURIED" && ParseU64(rest, &id)) || IsServerError(line)) {
          // Refused (a buried job will not run either). The server has consumed the body in
          // each of these cases, so the stream is still in step.
        } else {
          // BAD_FORMAT and the like: the server may have read the body as commands.
          return conn_->Corrupt("put -> " + Quote(line));
        }
      }
    }
    return Status::OK();
  }

 private:
  std::unique_ptr<Connection> conn_;
  uint32_t max_payload_;
  std::string wbuf_;
  std::vector<size_t> sent_;
};

class BeanstalkdReceiver : public Receiver {
 public:
  BeanstalkdReceiver(std::unique_ptr<Connection> conn, uint32_t max_payload)
      : conn_(std::move(conn)), max_payload_(max_payload) {}

  Status Receive(std::string* payload, uint32_t timeout_ms) override {
    // reserve-with-timeout takes whole seconds: wait the whole seconds on the server and poll
    // with a zero timeout (backing off up to kMaxPollSleep) for the fraction that is left.
    constexpr auto kMaxPollSleep = std::chrono::milliseconds(8);
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    auto sleep = std::chrono::milliseconds(1);
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      const int64_t secs = std::max<int64_t>(left.count(), 0) / 1000;
      Status s = Reserve(secs, payload);
      if (!s.IsTimedOut()) return s;
      const auto now = Clock::now();
      if (now >= deadline) return s;
      if (secs == 0) {
        std::this_thread::sleep_for(
            std::min(sleep, std::chrono::ceil<std::chrono::milliseconds>(deadline - now)));
        sleep = std::min(sleep * 2, kMaxPollSleep);
      }
    }
  }

  Status Ack() override {
    if (!have_job_) return Status::InvalidArgument(conn_->where() + ": no job to acknowledge");
    have_job_ = false;
    Status s = conn_->WriteAll("delete " + std::to_string(job_id_) + "\r\n");
    std::string_view line;
    if (s.ok()) s = conn_->ReadLine(&line, kIoTimeoutMs);
    if (!s.ok()) return s;
    if (line == "DELETED") return Status::OK();
    // Its ttr ran out and the server gave it to another worker: the same as a stale lease.
    if (line == "NOT_FOUND") return Status::StaleLease(conn_->where() + ": job timed out");
    if (IsServerError(line)) return Status::IOError(conn_->where() + ": delete -> " + Quote(line));
    return conn_->Corrupt("delete -> " + Quote(line));
  }

 private:
  Status Reserve(int64_t secs, std::string* payload) {
    Status s = conn_->WriteAll("reserve-with-timeout " + std::to_string(secs) + "\r\n");
    std::string_view line;
    if (s.ok()) s = conn_->ReadLine(&line, secs * 1000 + kIoTimeoutMs);
    if (!s.ok()) return s;
    if (line == "TIMED_OUT") return Status::TimedOut();
    // The job received before was not acknowledged and its ttr is almost over.
    if (line == "DEADLINE_SOON") {
      return Status::StaleLease(conn_->where() + ": DEADLINE_SOON (a reserved job is expiring)");
    }
    if (IsServerError(line)) return Status::IOError(conn_->where() + ": reserve -> " + Quote(line));
    std::string_view rest;
    if (SplitWord(line, &rest) != "RESERVED") return conn_->Corrupt("reserve -> " + Quote(line));
    std::string_view bytes_text;
    const std::string_view id_text = SplitWord(rest, &bytes_text);  // "<id> <bytes>"
    uint64_t id, bytes;
    if (!ParseU64(id_text, &id) || !ParseU64(bytes_text, &bytes)) {
      return conn_->Corrupt("malformed " + Quote(line));
    }
    if (bytes > max_payload_) {
      return conn_->Corrupt("job of " + std::to_string(bytes) + " bytes exceeds the limit");
    }
    s = conn_->ReadBody(bytes, payload);
    if (!s.ok()) return s;
    job_id_ = id;
    have_job_ = true;
    return Status::OK();
  }

  std::unique_ptr<Connection> conn_;
  uint32_t max_payload_;
  uint64_t job_id_ = 0;
  bool have_job_ = false;
};

Status Open(const Target& t, std::unique_ptr<Connection>* out) {
  if (!ValidTube(t.queue)) {
    return Status::InvalidArgument("beanstalkd: invalid tube name " + Quote(t.queue));
  }
  auto conn = std::make_unique<Connection>();
  Status s = conn->Connect(t.host, t.port, t.max_payload);
  if (s.ok()) *out = std::move(conn);
  return s;
}

}  // namespace

Status MakeBeanstalkdSender(const Target& t, std::unique_ptr<Sender>* out) {
  std::unique_ptr<Connection> conn;
  Status s = Open(t, &conn);
  if (s.ok()) s = conn->Command("use " + t.queue, "USING " + t.queue);
  if (s.ok()) *out = std::make_unique<BeanstalkdSender>(std::move(conn), t.max_payload);
  return s;
}

Status MakeBeanstalkdReceiver(const Target& t, std::unique_ptr<Receiver>* out) {
  std::unique_ptr<Connection> conn;
  Status s = Open(t, &conn);
  if (!s.ok()) return s;
  std::string_view line;
  s = conn->WriteAll("watch " + t.queue + "\r\n");
  if (s.ok()) s = conn->ReadLine(&line, kIoTimeoutMs);
  if (s.ok() && !line.starts_with("WATCHING ")) {
    s = Status::IOError(conn->where() + ": watch -> " + Quote(line));
  }
  // Every connection starts out watching "default"; this receiver takes from its tube only.
  if (s.ok() && t.queue != "default") s = conn->Command("ignore default", "WATCHING 1");
  if (s.ok()) *out = std::make_unique<BeanstalkdReceiver>(std::move(conn), t.max_payload);
  return s;
}

}  // namespace taskring::loadgen
