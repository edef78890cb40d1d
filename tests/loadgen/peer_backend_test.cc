// The load tool's peer backends against the real thing: a Boost message_queue in shared memory,
// and redis-server and beanstalkd started here as child processes on free loopback ports.
// Every backend must carry binary payloads byte for byte, in order, and time out when empty.
// Fake servers check that malformed replies become errors, never crashes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loadgen/backend.h"
#include "loadgen/peers.h"
#include "test_util.h"

namespace taskring::loadgen {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// A port nobody listens on right now: bind port 0, read what the kernel chose, close.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

bool CanConnect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

// The full path of `name` on $PATH, or "" when it is not installed.
std::string FindBinary(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  dirs += ":/usr/sbin:/sbin";  // Debian puts some daemons here
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string file = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(file.c_str(), X_OK) == 0) return file;
    start = end + 1;
  }
  return "";
}

// A server binary run as a child process (no shell) on a loopback port; SIGTERM at the end.
class ServerProcess {
 public:
  ~ServerProcess() { Stop(); }

  ::testing::AssertionResult Start(const std::string& binary, std::vector<std::string> args,
                                   int port) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed";
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      const int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
      }
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    const auto start = Clock::now();
    while (MsSince(start) < 10000) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << binary << " exited at startup, status " << status;
      }
      if (CanConnect(port)) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(milliseconds(10));
    }
    return ::testing::AssertionFailure() << binary << " not listening on port " << port;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status;
    const auto start = Clock::now();
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (MsSince(start) > 5000) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// A scripted one-connection TCP server: for each step it reads until `expect` has arrived, then
// writes `reply`; after the last step it keeps the connection open until the test ends.
class FakeServer {
 public:
  struct Step {
    std::string expect;
    std::string reply;
  };

  FakeServer(std::initializer_list<Step> steps) : steps_(steps) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        ::listen(listen_fd_, 1) == 0 &&
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
    if (::pipe2(stop_, O_CLOEXEC) != 0) std::abort();
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeServer() {
    if (::write(stop_[1], "x", 1) != 1) std::abort();
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }
  int port() const { return port_; }

 private:
  // Waits for fd to be readable; false when the test is over.
  bool WaitReadable(int fd) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    return ::poll(p, 2, 20000) > 0 && (p[1].revents & POLLIN) == 0;
  }

  void Run() {
    if (!WaitReadable(listen_fd_)) return;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    std::string in;
    for (const Step& step : steps_) {
      size_t at;
      while ((at = in.find(step.expect)) == std::string::npos) {
        char buf[4096];
        if (!WaitReadable(fd)) return ::close(fd), void();
        const ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) return ::close(fd), void();
        in.append(buf, static_cast<size_t>(n));
      }
      in.erase(0, at + step.expect.size());
      ::send(fd, step.reply.data(), step.reply.size(), MSG_NOSIGNAL);
    }
    WaitReadable(stop_[0]);
    ::close(fd);
  }

  std::vector<Step> steps_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

// n payloads that differ in length and carry NUL, 0xff, CR LF and a lone CR inside; the first is
// empty and one is exactly max_payload bytes long.
std::vector<std::string> MakePayloads(size_t n, uint32_t max_payload) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) {
    std::string p;
    if (i > 0) {
      p = "job-" + std::to_string(i);
      p += std::string("\0\xff\r\n", 4);
      p += std::string(i % 37, static_cast<char>(i));
      p += "\r\n\r\n\r";
      p.push_back('\0');
    }
    if (i == n / 2) p.resize(max_payload, '\xfe');
    v.push_back(std::move(p));
  }
  return v;
}

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return std::vector<std::string_view>(v.begin(), v.end());
}

// Sends all payloads as one batch, then receives and acknowledges them: same bytes, same order.
void RoundTrip(const Target& t, size_t n) {
  std::unique_ptr<Sender> sender;
  std::unique_ptr<Receiver> receiver;
  ASSERT_OK(MakeSender(t, &sender));
  ASSERT_OK(MakeReceiver(t, &receiver));
  const std::vector<std::string> payloads = MakePayloads(n, t.max_payload);
  const std::vector<std::string_view> views = Views(payloads);
  std::vector<SendOutcome> out(n, SendOutcome::kError);
  ASSERT_OK(sender->Send(views, out));
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], SendOutcome::kAccepted) << "payload " << i;

  std::string got;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_OK(receiver->Receive(&got, 2000)) << "job " << i;
    ASSERT_EQ(got, payloads[i]) << "job " << i;
    ASSERT_OK(receiver->Ack()) << "job " << i;
  }
  // Drained: a bounded wait ends in TimedOut, neither early nor much late.
  auto start = Clock::now();
  Status s = receiver->Receive(&got, 300);
  EXPECT_TRUE(s.IsTimedOut()) << s.ToString();
  EXPECT_GE(MsSince(start), 290);
  EXPECT_LT(MsSince(start), 1500);
  // A zero wait polls once.
  start = Clock::now();
  s = receiver->Receive(&got, 0);
  EXPECT_TRUE(s.IsTimedOut()) << s.ToString();
  EXPECT_LT(MsSince(start), 500);
}

// A payload over the limit is refused on its own; the rest of the batch goes through.
void OversizedIsRefusedAlone(const Target& t) {
  std::unique_ptr<Sender> sender;
  std::unique_ptr<Receiver> receiver;
  ASSERT_OK(MakeSender(t, &sender));
  ASSERT_OK(MakeReceiver(t, &receiver));
  const std::string big(t.max_payload + 1, 'x');
  const std::vector<std::string_view> views = {"before", big, "after"};
  std::vector<SendOutcome> out(3);
  ASSERT_OK(sender->Send(views, out));
  EXPECT_EQ(out[0], SendOutcome::kAccepted);
  EXPECT_EQ(out[1], SendOutcome::kError);
  EXPECT_EQ(out[2], SendOutcome::kAccepted);
  std::string got;
  ASSERT_OK(receiver->Receive(&got, 2000));
  EXPECT_EQ(got, "before");
  ASSERT_OK(receiver->Ack());
  ASSERT_OK(receiver->Receive(&got, 2000));
  EXPECT_EQ(got, "after");
  ASSERT_OK(receiver->Ack());
}

// Sends one inline command to Redis on a fresh connection and returns its first reply chunk.
std::string RawRedis(int port, const std::string& command) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string reply;
  char buf[256];
  ssize_t n;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::send(fd, command.data(), command.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(command.size()) &&
      (n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
    reply.assign(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

// Non-printable bytes as \xNN, for failure messages.
std::string Quoted(const std::string& s) {
  std::string q;
  for (unsigned char c : s.substr(0, 40)) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "\\x%02x", c);
    q += (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c)) : std::string(hex);
  }
  return q;
}

// ---------------------------------------------------------------- Boost message_queue

class BoostMqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_.kind = BackendKind::kBoostMq;
    target_.queue = test::UniqueQueueName("mq");
    target_.max_payload = 512;
    target_.capacity = 256;
  }
  void TearDown() override { RemoveBoostMq(target_.queue); }
  Target target_;
};

TEST_F(BoostMqTest, BinaryPayloadsRoundTripInOrder) { RoundTrip(target_, 100); }

TEST_F(BoostMqTest, OversizedPayloadIsRefusedAlone) { OversizedIsRefusedAlone(target_); }

TEST_F(BoostMqTest, FullQueueIsBusy) {
  target_.capacity = 4;
  std::unique_ptr<Sender> sender;
  ASSERT_OK(MakeSender(target_, &sender));
  const std::vector<std::string> payloads = MakePayloads(6, target_.max_payload);
  std::vector<SendOutcome> out(6);
  ASSERT_OK(sender->Send(Views(payloads), out));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], SendOutcome::kAccepted) << i;
  EXPECT_EQ(out[4], SendOutcome::kBusy);
  EXPECT_EQ(out[5], SendOutcome::kBusy);

  // Taking one makes room for one.
  std::unique_ptr<Receiver> receiver;
  ASSERT_OK(MakeReceiver(target_, &receiver));
  std::string got;
  ASSERT_OK(receiver->Receive(&got, 1000));
  EXPECT_EQ(got, payloads[0]);
  const std::vector<std::string_view> two = {"a", "b"};
  ASSERT_OK(sender->Send(two, std::span(out).first(2)));
  EXPECT_EQ(out[0], SendOutcome::kAccepted);
  EXPECT_EQ(out[1], SendOutcome::kBusy);
}

TEST_F(BoostMqTest, QueueIsOwnerOnlyAndRemovable) {
  std::unique_ptr<Sender> sender;
  ASSERT_OK(MakeSender(target_, &sender));
  struct stat st;
  ASSERT_EQ(::stat(("/dev/shm/" + target_.queue).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  sender.reset();
  RemoveBoostMq(target_.queue);
  EXPECT_NE(::access(("/dev/shm/" + target_.queue).c_str(), F_OK), 0);
  RemoveBoostMq(target_.queue);  // removing twice is harmless
}

TEST_F(BoostMqTest, BadNameIsAnErrorNotAnException) {
  target_.queue = "no/slashes/allowed";
  std::unique_ptr<Sender> sender;
  Status s = MakeSender(target_, &sender);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(sender, nullptr);
}

// ---------------------------------------------------------------- Redis

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string bin = FindBinary("redis-server");
    if (bin.empty()) GTEST_SKIP() << "redis-server is not installed (Debian: redis-server)";
    const int port = FreePort();
    ASSERT_GT(port, 0);
    ASSERT_TRUE(server_.Start(bin,
                              {"--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--daemonize", "no"},
                              port));
    target_.kind = BackendKind::kRedis;
    target_.queue = test::UniqueQueueName("list");
    target_.port = port;
    target_.max_payload = 1024;
  }
  ServerProcess server_;
  Target target_;
};

TEST_F(RedisTest, BinaryPayloadsRoundTripInOrder) { RoundTrip(target_, 100); }

TEST_F(RedisTest, LargePipelinedBatch) { RoundTrip(target_, 5000); }

TEST_F(RedisTest, OversizedPayloadIsRefusedAlone) { OversizedIsRefusedAlone(target_); }

TEST_F(RedisTest, ErrorRepliesRefuseOnlyTheirPayload) {
  // A string under the list's name makes LPUSH and BRPOP answer -WRONGTYPE.
  ASSERT_EQ(RawRedis(target_.port, "SET " + target_.queue + " x\r\n"), "+OK\r\n");
  std::unique_ptr<Sender> sender;
  std::unique_ptr<Receiver> receiver;
  ASSERT_OK(MakeSender(target_, &sender));
  ASSERT_OK(MakeReceiver(target_, &receiver));
  std::vector<SendOutcome> out(3, SendOutcome::kAccepted);
  const std::vector<std::string_view> three = {"a", "b", "c"};
  ASSERT_OK(sender->Send(three, out));
  for (SendOutcome o : out) EXPECT_EQ(o, SendOutcome::kError);
  std::string got;
  Status s = receiver->Receive(&got, 100);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("WRONGTYPE"), std::string::npos) << s.ToString();

  // Both connections are still in step: once the key is a list again, all works.
  ASSERT_EQ(RawRedis(target_.port, "DEL " + target_.queue + "\r\n"), ":1\r\n");
  ASSERT_OK(sender->Send(three, out));
  for (SendOutcome o : out) EXPECT_EQ(o, SendOutcome::kAccepted);
  ASSERT_OK(receiver->Receive(&got, 1000));
  EXPECT_EQ(got, "a");
}

TEST_F(RedisTest, NoServerIsAnIOErrorNamingTheAddress) {
  server_.Stop();
  std::unique_ptr<Sender> sender;
  Status s = MakeSender(target_, &sender);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("127.0.0.1:" + std::to_string(target_.port)), std::string::npos)
      << s.ToString();
}

TEST_F(RedisTest, ServerGoneIsAnIOError) {
  std::unique_ptr<Sender> sender;
  std::unique_ptr<Receiver> receiver;
  ASSERT_OK(MakeSender(target_, &sender));
  ASSERT_OK(MakeReceiver(target_, &receiver));
  server_.Stop();
  std::vector<SendOutcome> out(1);
  const std::vector<std::string_view> one = {"x"};
  EXPECT_FALSE(sender->Send(one, out).ok());
  EXPECT_EQ(out[0], SendOutcome::kError);
  std::string got;
  Status s = receiver->Receive(&got, 100);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
}

TEST(RedisFakeTest, MalformedRepliesAreErrors) {
  // BRPOP answered with an integer where the item should be.
  {
    FakeServer fake({{"BRPOP", "*2\r\n$1\r\nq\r\n:7\r\n"}});
    Target t;
    t.kind = BackendKind::kRedis;
    t.queue = "q";
    t.port = fake.port();
    std::unique_ptr<Receiver> r;
    ASSERT_OK(MakeReceiver(t, &r));
    std::string got;
    Status s = r->Receive(&got, 100);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
  // An item larger than the payload limit.
  {
    FakeServer fake({{"BRPOP", "*2\r\n$1\r\nq\r\n$10\r\n0123456789\r\n"}});
    Target t;
    t.kind = BackendKind::kRedis;
    t.queue = "q";
    t.port = fake.port();
    t.max_payload = 9;
    std::unique_ptr<Receiver> r;
    ASSERT_OK(MakeReceiver(t, &r));
    std::string got;
    Status s = r->Receive(&got, 100);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
  // Not RESP at all: hiredis reports a protocol error.
  {
    FakeServer fake({{"LPUSH", "hello there\r\n"}});
    Target t;
    t.kind = BackendKind::kRedis;
    t.queue = "q";
    t.port = fake.port();
    std::unique_ptr<Sender> snd;
    ASSERT_OK(MakeSender(t, &snd));
    std::vector<SendOutcome> out(1);
    const std::vector<std::string_view> one = {"x"};
    Status s = snd->Send(one, out);
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_EQ(out[0], SendOutcome::kError);
  }
}

// ---------------------------------------------------------------- beanstalkd

class BeanstalkdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string bin = FindBinary("beanstalkd");
    if (bin.empty()) GTEST_SKIP() << "beanstalkd is not installed (Debian: beanstalkd)";
    const int port = FreePort();
    ASSERT_GT(port, 0);
    ASSERT_TRUE(server_.Start(bin, {"-l", "127.0.0.1", "-p", std::to_string(port)}, port));
    target_.kind = BackendKind::kBeanstalkd;
    target_.queue = test::UniqueQueueName("tube");
    target_.port = port;
    target_.max_payload = 1024;
  }
  ServerProcess server_;
  Target target_;
};

TEST_F(BeanstalkdTest, BinaryPayloadsRoundTripInOrder) { RoundTrip(target_, 100); }

// More puts than one pipelining window.
TEST_F(BeanstalkdTest, LargePipelinedBatch) { RoundTrip(target_, 5000); }

TEST_F(BeanstalkdTest, OversizedPayloadIsRefusedAlone) { OversizedIsRefusedAlone(target_); }

TEST_F(BeanstalkdTest, TimeoutOverASecondUsesServerWaitThenPolls) {
  std::unique_ptr<Receiver> receiver;
  ASSERT_OK(MakeReceiver(target_, &receiver));
  std::string got;
  const auto start = Clock::now();
  Status s = receiver->Receive(&got, 1300);
  EXPECT_TRUE(s.IsTimedOut()) << s.ToString();
  EXPECT_GE(MsSince(start), 1290);
  EXPECT_LT(MsSince(start), 2500);
}

TEST_F(BeanstalkdTest, JobSentDuringTheWaitIsReceived) {
  std::unique_ptr<Sender> sender;
  std::unique_ptr<Receiver> receiver;
  ASSERT_OK(MakeSender(target_, &sender));
  ASSERT_OK(MakeReceiver(target_, &receiver));
  std::thread late([&] {
    std::this_thread::sleep_for(milliseconds(200));
    std::vector<SendOutcome> out(1);
    const std::vector<std::string_view> one = {"late"};
    EXPECT_OK(sender->Send(one, out));
  });
  std::string got;
  EXPECT_OK(receiver->Receive(&got, 3000));
  EXPECT_EQ(got, "late");
  late.join();
}

TEST_F(BeanstalkdTest, UnacknowledgedJobReturnsWhenTheWorkerGoes) {
  std::unique_ptr<Sender> sender;
  ASSERT_OK(MakeSender(target_, &sender));
  std::vector<SendOutcome> out(1);
  const std::vector<std::string_view> one = {"again"};
  ASSERT_OK(sender->Send(one, out));
  std::string got;
  {
    std::unique_ptr<Receiver> first;
    ASSERT_OK(MakeReceiver(target_, &first));
    ASSERT_OK(first->Receive(&got, 2000));
    // No Ack: closing the connection releases the reservation.
  }
  std::unique_ptr<Receiver> second;
  ASSERT_OK(MakeReceiver(target_, &second));
  ASSERT_OK(second->Receive(&got, 2000));
  EXPECT_EQ(got, "again");
  EXPECT_OK(second->Ack());
  Status s = second->Ack();
  EXPECT_TRUE(s.IsInvalidArgument()) << "nothing left to acknowledge: " << s.ToString();
  s = second->Receive(&got, 0);
  EXPECT_TRUE(s.IsTimedOut()) << s.ToString();
}

TEST_F(BeanstalkdTest, NoServerIsAnIOErrorNamingTheAddress) {
  server_.Stop();
  std::unique_ptr<Receiver> receiver;
  Status s = MakeReceiver(target_, &receiver);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("127.0.0.1:" + std::to_string(target_.port)), std::string::npos)
      << s.ToString();
}

TEST_F(BeanstalkdTest, BadTubeNameIsRejected) {
  target_.queue = "-starts-with-hyphen";
  std::unique_ptr<Sender> sender;
  EXPECT_TRUE(MakeSender(target_, &sender).IsInvalidArgument());
  target_.queue = "has space";
  EXPECT_TRUE(MakeSender(target_, &sender).IsInvalidArgument());
}

// A receiver against a fake beanstalkd whose reserve answer is `reply`; *after (if asked for) is
// what a second Receive on the same connection returns.
Status ReceiveFromFake(const std::string& reply, std::string* got, Status* after = nullptr) {
  FakeServer fake({{"watch t\r\n", "WATCHING 2\r\n"},
                   {"ignore default\r\n", "WATCHING 1\r\n"},
                   {"reserve-with-timeout 0\r\n", reply}});
  Target t;
  t.kind = BackendKind::kBeanstalkd;
  t.queue = "t";
  t.port = fake.port();
  t.max_payload = 16;
  std::unique_ptr<Receiver> r;
  Status s = MakeReceiver(t, &r);
  if (!s.ok()) return s;
  s = r->Receive(got, 0);
  if (after != nullptr) *after = r->Receive(got, 0);
  return s;
}

TEST(BeanstalkdFakeTest, MalformedRepliesAreErrors) {
  std::string got;
  Status after;
  // The well-formed case first, so the fake itself is known to work.
  EXPECT_OK(ReceiveFromFake(std::string("RESERVED 7 5\r\na\0\r\nb\r\n", 21), &got));
  EXPECT_EQ(got, std::string("a\0\r\nb", 5));

  const std::vector<std::string> bad = {
      "RESERVED 7 17\r\n01234567890123456\r\n",  // body over the limit
      "RESERVED 7 5\r\nabcdeXY",                 // body not followed by CRLF
      "RESERVED x 5\r\nabcde\r\n",               // id not a number
      "RESERVED 7 -5\r\n",                       // negative size
      "RESERVED 7\r\n",                          // size missing
      "RESERVED 7 5 9\r\nabcde\r\n",             // extra field
      "HELLO\r\n",                               // not a reply at all
      std::string(1000, 'A'),                    // a line without end
  };
  for (const std::string& reply : bad) {
    Status s = ReceiveFromFake(reply, &got, &after);
    EXPECT_TRUE(s.IsCorruption()) << Quoted(reply) << ": " << s.ToString();
    EXPECT_TRUE(after.IsIOError()) << "connection dropped after: " << after.ToString();
  }
  // A server error reply is an error, not a timeout.
  Status s = ReceiveFromFake("OUT_OF_MEMORY\r\n", &got);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  s = ReceiveFromFake("DEADLINE_SOON\r\n", &got);
  EXPECT_TRUE(s.IsStaleLease()) << s.ToString();
}

TEST(BeanstalkdFakeTest, PutRepliesMapToOutcomes) {
  FakeServer fake({{"use t\r\n", "USING t\r\n"},
                   {"put 1024 0 60 1\r\nd\r\n",
                    "INSERTED 1\r\nBURIED 2\r\nJOB_TOO_BIG\r\nDRAINING\r\nINSERTED 5\r\n"},
                   {"put 1024 0 60 1\r\ne\r\n", "INSERTED nope\r\n"}});
  Target t;
  t.kind = BackendKind::kBeanstalkd;
  t.queue = "t";
  t.port = fake.port();
  std::unique_ptr<Sender> snd;
  ASSERT_OK(MakeSender(t, &snd));
  std::vector<SendOutcome> out(4);
  const std::vector<std::string_view> four = {"a", "b", "c", "d"};
  // The fake answers all five puts at once; the first four are this batch.
  ASSERT_OK(snd->Send(four, out));
  EXPECT_EQ(out[0], SendOutcome::kAccepted);
  EXPECT_EQ(out[1], SendOutcome::kError);  // buried
  EXPECT_EQ(out[2], SendOutcome::kError);  // too big
  EXPECT_EQ(out[3], SendOutcome::kError);  // draining
  const std::vector<std::string_view> one = {"e"};
  // The leftover "INSERTED 5" answers "e"; then "INSERTED nope" is malformed for the next one.
  ASSERT_OK(snd->Send(one, std::span(out).first(1)));
  EXPECT_EQ(out[0], SendOutcome::kAccepted);
  Status s = snd->Send(one, std::span(out).first(1));
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(out[0], SendOutcome::kError);
}

}  // namespace
}  // namespace taskring::loadgen
