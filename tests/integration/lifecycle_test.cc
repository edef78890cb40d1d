// A queue's life as a new user meets it: start, readiness, refused starts, clean stops, leftovers,
// a WAL directory's identity, and running out of client entries.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "segment/segment.h"
#include "taskring/producer.h"
#include "taskring/worker.h"
#include "test_util.h"

namespace taskring {
namespace {

namespace fs = std::filesystem;

class LifecycleTest : public ::testing::Test {
 protected:
  // Every /dev/shm entry that belongs to this test's queue.
  std::vector<std::string> ShmEntries() const {
    std::vector<std::string> out;
    const std::string prefix = segment::ShmName(queue_);
    for (const auto& e : fs::directory_iterator("/dev/shm")) {
      const std::string name = e.path().filename().string();
      if (name == prefix || name.rfind(prefix + "~", 0) == 0) out.push_back(name);
    }
    return out;
  }
  Status OpenProducer(std::unique_ptr<Producer>* p, uint32_t wait_ms = 0) const {
    ProducerOptions o;
    o.queue = queue_;
    o.wait_for_daemon_ms = wait_ms;
    return Producer::Open(o, p);
  }
  // In the background: opens a producer that waits (up to a minute) for a daemon, and enqueues.
  std::future<Status> OpenWaitingAndEnqueue() const {
    return std::async(std::launch::async, [this] {
      std::unique_ptr<Producer> waited;
      Status s = OpenProducer(&waited, 60000);
      if (s.ok()) s = waited->Enqueue("waited for", nullptr);
      return s;
    });
  }
  // Waits (bounded) until some client's lane holds `n` records the (frozen) daemon has not read.
  bool WaitForLaneRecords(uint64_t n) const {
    std::unique_ptr<segment::Segment> seg;
    if (!segment::Segment::Attach(queue_, true, &seg).ok()) return false;
    for (int i = 0; i < 10000; ++i) {
      for (uint32_t c = 0; c < seg->params().max_clients; ++c) {
        const segment::ClientEntry* e = seg->client(c);
        if (e->tail.load() - e->head.load() == n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  std::string queue_ = test::UniqueQueueName("life");
  test::TempDir tmp_;
  std::string wal_ = tmp_.path() + "/wal";
};

TEST_F(LifecycleTest, CleanStopLeavesNothingInDevShm) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  EXPECT_EQ(ShmEntries().size(), 2u) << "the segment and its daemon's lock";
  EXPECT_EQ(d.Stop(), 0);
  EXPECT_TRUE(ShmEntries().empty()) << ShmEntries().front();
}

TEST_F(LifecycleTest, RefusedStartLeavesNoHalfBuiltSegment) {
  {
    test::Daemon d(queue_, wal_, {"--capacity", "64", "--max-payload", "64"});
    ASSERT_TRUE(d.Start());
    std::unique_ptr<Producer> p;
    ASSERT_OK(OpenProducer(&p));
    for (int i = 0; i < 16; ++i) ASSERT_OK(p->Enqueue("job", nullptr));
    p.reset();
    ASSERT_EQ(d.Stop(), 0);
  }
  test::Daemon small(queue_, wal_, {"--capacity", "5", "--max-payload", "64"});
  EXPECT_FALSE(small.Start()) << "16 unfinished jobs cannot fit in 5 places";
  EXPECT_NE(small.Log().find("the WAL holds 16 unfinished jobs but --capacity is 5"),
            std::string::npos)
      << small.Log();
  EXPECT_TRUE(ShmEntries().empty()) << ShmEntries().front();
  std::unique_ptr<Producer> p;
  const Status s = OpenProducer(&p);
  EXPECT_TRUE(s.IsNotFound()) << "no daemon, so no queue; got " << s.ToString();

  test::Daemon again(queue_, wal_, {"--capacity", "64", "--max-payload", "64"});
  ASSERT_TRUE(again.Start()) << "the jobs are all still there";
  EXPECT_EQ(again.Log().find("capacity 5 -> 64"), std::string::npos)
      << "the refused start recorded nothing: " << again.Log();
  std::unique_ptr<Worker> w = test::OpenWorker(queue_);
  ASSERT_NE(w, nullptr);
  for (int i = 0; i < 16; ++i) {
    Job job;
    ASSERT_OK(w->Take(&job, 5000));
    ASSERT_OK(w->Complete(job));
  }
}

// A segment installed under the queue's name but never published, by a process that then died:
// what a daemon killed while recovering leaves.
TEST_F(LifecycleTest, LeftoverOfADaemonThatDiedStartingIsNotReportedAsStarting) {
  const pid_t child = ::fork();
  if (child == 0) {
    segment::CreateOptions o;
    o.params = {16, 64, 4, 16};
    std::unique_ptr<segment::Segment> seg;
    if (!segment::Segment::Create(queue_, o, &seg).ok() || !seg->Install().ok()) _exit(1);
    _exit(0);  // dies holding the daemon-life mutex, before Publish
  }
  ASSERT_EQ(test::WaitChild(child), 0);
  std::unique_ptr<segment::Segment> seg;
  const Status s = segment::Segment::Attach(queue_, true, &seg);
  EXPECT_TRUE(s.IsClosed()) << s.ToString();
  EXPECT_NE(s.ToString().find("died while starting"), std::string::npos) << s.ToString();
  std::unique_ptr<Producer> p;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(OpenProducer(&p).IsClosed()) << "not a 5 s wait for a start that never ends";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));

  // A daemon does take it over.
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  ASSERT_OK(OpenProducer(&p));
  EXPECT_OK(p->Enqueue("after the leftover", nullptr));
}

TEST_F(LifecycleTest, StartingDaemonIsNotReady) {
  segment::CreateOptions o;
  o.params = {16, 64, 4, 16};
  std::unique_ptr<segment::Segment> seg;
  ASSERT_OK(segment::Segment::Create(queue_, o, &seg));  // this thread holds its life mutex
  std::unique_ptr<segment::Segment> attached;
  EXPECT_TRUE(segment::Segment::Attach(queue_, true, &attached).IsNotFound())
      << "invisible while staged";
  ASSERT_OK(seg->Install());
  const Status s = segment::Segment::Attach(queue_, true, &attached);
  EXPECT_TRUE(s.IsNotReady()) << s.ToString();
  seg->ReleaseDaemonLife();
  segment::Segment::Remove(queue_);
}

TEST_F(LifecycleTest, DestroyedBeforeInstallLeavesNothing) {
  segment::CreateOptions o;
  o.params = {16, 64, 4, 16};
  {
    std::unique_ptr<segment::Segment> seg;
    ASSERT_OK(segment::Segment::Create(queue_, o, &seg));
    EXPECT_EQ(ShmEntries(), std::vector<std::string>{segment::StagingShmName(queue_)});
    seg->ReleaseDaemonLife();
  }
  EXPECT_TRUE(ShmEntries().empty());
}

TEST_F(LifecycleTest, ReadyFdIsWrittenOnceTheQueueServes) {
  // test::Daemon starts taskringd with --ready-fd on a pipe of its own and returns from Start()
  // once the daemon's line has arrived (harness::DaemonProcess).
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  EXPECT_EQ(d.ready_line().rfind("ready serving queue " + queue_, 0), 0u) << d.ready_line();
  std::unique_ptr<Producer> p;
  EXPECT_OK(OpenProducer(&p));
}

TEST_F(LifecycleTest, SystemdNotifySocketGetsReadyAndStopping) {
  const std::string path = tmp_.path() + "/notify.sock";
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  test::Daemon d(queue_, wal_);
  d.SetEnv({"NOTIFY_SOCKET=" + path});
  ASSERT_TRUE(d.Start());
  auto receive = [&] {
    char buf[512];
    timeval tv{10, 0};
    ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const ssize_t n = ::recv(sock, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  const std::string ready = receive();
  EXPECT_EQ(ready.rfind("READY=1\n", 0), 0u) << ready;
  EXPECT_NE(ready.find("MAINPID=" + std::to_string(d.pid())), std::string::npos) << ready;
  EXPECT_EQ(d.Stop(), 0);
  EXPECT_EQ(receive(), "STOPPING=1");
  ::close(sock);
}

TEST_F(LifecycleTest, OpenWaitsForADaemonStartedLater) {
  std::unique_ptr<Producer> p;
  const Status none = OpenProducer(&p);
  EXPECT_TRUE(none.IsNotFound()) << "no waiting by default: " << none.ToString();
  auto opened = OpenWaitingAndEnqueue();
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  EXPECT_OK(opened.get());
}

TEST_F(LifecycleTest, OpenWaitsThroughARestart) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  d.Kill();  // leaves a dead daemon's segment behind
  std::unique_ptr<Producer> p;
  const Status dead = OpenProducer(&p);
  EXPECT_TRUE(dead.IsClosed()) << dead.ToString();
  auto opened = OpenWaitingAndEnqueue();
  test::Daemon again(queue_, wal_);
  ASSERT_TRUE(again.Start());
  EXPECT_OK(opened.get());
}

// A job handed to a daemon that died before logging it has an unknown outcome, and the client
// knows its id: a later job must never get the same id, or polling it would report a stranger.
TEST_F(LifecycleTest, IdsTakenBeforeACrashAreNeverReused) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  std::unique_ptr<Producer> p;
  ASSERT_OK(OpenProducer(&p));
  uint64_t logged = 0;
  ASSERT_OK(p->Enqueue("logged", &logged));
  ::kill(d.pid(), SIGSTOP);  // the daemon takes nothing from the lane now
  std::vector<std::string_view> payloads = {"never logged"};
  std::vector<EnqueueResult> results(1);
  auto submitted =
      std::async(std::launch::async, [&] { return p->EnqueueBatch(payloads, results); });
  // Wait until the record is in a lane the frozen daemon has not read, then kill it.
  ASSERT_TRUE(WaitForLaneRecords(1));
  d.Kill();
  const Status s = submitted.get();
  ASSERT_TRUE(s.IsClosed()) << s.ToString();
  const uint64_t unknown = results[0].job_id;
  ASSERT_EQ(unknown, logged + 1) << "the id the client was given";

  test::Daemon again(queue_, wal_);
  ASSERT_TRUE(again.Start());
  std::unique_ptr<Producer> p2;
  ASSERT_OK(OpenProducer(&p2));
  uint64_t next = 0;
  ASSERT_OK(p2->Enqueue("after the crash", &next));
  EXPECT_GT(next, unknown) << "id " << unknown << " was given out before the crash";
}

// A batch longer than the lane: the first records are pushed, then the push waits for room and
// the daemon dies. Those pushed may have been logged: they keep their ids (outcome unknown,
// never to be resubmitted); only the rest are marked never submitted.
TEST_F(LifecycleTest, BatchCutByADaemonCrashKeepsTheIdsOfWhatWasPushed) {
  test::Daemon d(queue_, wal_, {"--lane-capacity", "2"});
  ASSERT_TRUE(d.Start());
  std::unique_ptr<Producer> p;
  ASSERT_OK(OpenProducer(&p));
  ::kill(d.pid(), SIGSTOP);
  std::vector<std::string_view> payloads(6, "job");
  std::vector<EnqueueResult> results(payloads.size());
  auto submitted =
      std::async(std::launch::async, [&] { return p->EnqueueBatch(payloads, results); });
  ASSERT_TRUE(WaitForLaneRecords(2)) << "the lane is full";
  d.Kill();
  EXPECT_TRUE(submitted.get().IsClosed());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].status.IsClosed()) << i << ": " << results[i].status.ToString();
    if (i < 2) {
      EXPECT_NE(results[i].job_id, 0u) << i << " was pushed: its outcome is unknown";
    } else {
      EXPECT_EQ(results[i].job_id, 0u) << i << " was never submitted";
    }
  }
}

// A batch to a daemon that is already gone: every item says so (none is left reading as
// accepted, which a caller answering each item on its own, as the HTTP gateway does, would
// report as a job).
TEST_F(LifecycleTest, BatchToADeadDaemonFailsEveryItem) {
  test::Daemon d(queue_, wal_);
  ASSERT_TRUE(d.Start());
  std::unique_ptr<Producer> p;
  ASSERT_OK(OpenProducer(&p));
  d.Kill();
  std::vector<std::string_view> payloads(3, "job");
  std::vector<EnqueueResult> results(payloads.size());
  EXPECT_TRUE(p->EnqueueBatch(payloads, results).IsClosed());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].status.IsClosed()) << i << ": " << results[i].status.ToString();
    EXPECT_EQ(results[i].job_id, 0u) << i;
  }
}

TEST_F(LifecycleTest, WalDirectoryOfAnotherQueueIsRefused) {
  {
    test::Daemon d(queue_, wal_);
    ASSERT_TRUE(d.Start());
    ASSERT_EQ(d.Stop(), 0);
  }
  const std::string other = test::UniqueQueueName("other");
  test::Daemon d(other, wal_);
  EXPECT_FALSE(d.Start());
  EXPECT_NE(d.Log().find("belongs to queue '" + queue_ + "', not '" + other + "'"),
            std::string::npos)
      << d.Log();
}

TEST_F(LifecycleTest, ParameterChangesAcrossRestartsAreLogged) {
  {
    test::Daemon d(queue_, wal_, {"--capacity", "64"});
    ASSERT_TRUE(d.Start());
    ASSERT_EQ(d.Stop(), 0);
  }
  test::Daemon d(queue_, wal_, {"--capacity", "128", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  EXPECT_NE(d.Log().find("configuration changed since last start: capacity 64 -> 128"),
            std::string::npos)
      << d.Log();
  EXPECT_NE(d.Log().find("durability fsync -> none"), std::string::npos) << d.Log();
}

TEST_F(LifecycleTest, RunningOutOfClientEntriesIsResourceExhausted) {
  test::Daemon d(queue_, wal_, {"--max-clients", "4"});
  ASSERT_TRUE(d.Start());
  std::vector<std::unique_ptr<Producer>> producers(4);
  for (auto& p : producers) ASSERT_OK(OpenProducer(&p));
  std::unique_ptr<Producer> fifth;
  const Status s = OpenProducer(&fifth);
  EXPECT_TRUE(s.IsResourceExhausted()) << s.ToString();
  EXPECT_NE(s.ToString().find("all 4 client entries"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("--max-clients"), std::string::npos) << s.ToString();
}

TEST_F(LifecycleTest, ConfigFileSetsFlagsAndTheCommandLineWins) {
  const std::string conf = tmp_.path() + "/q.conf";
  std::ofstream(conf) << "# a queue for tests\ncapacity = 48\nmax-payload = 100\n"
                         "no-metrics = true\n";
  test::Daemon d(queue_, wal_, {"--config", conf, "--max-payload", "200"});
  ASSERT_TRUE(d.Start()) << d.Log();
  std::unique_ptr<Producer> p;
  ASSERT_OK(OpenProducer(&p));
  EXPECT_EQ(p->capacity(), 48u);
  EXPECT_EQ(p->max_payload(), 200u);
}

TEST_F(LifecycleTest, FlagErrorsExitTwoWithOneLine) {
  const std::string daemon = test::BinDir() + "/taskringd";
  const auto twice = test::RunCommand(
      {daemon, "--queue", queue_, "--dir", wal_, "--capacity", "8", "--capacity", "16"});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("--capacity given twice"), std::string::npos) << twice.err;
  const std::string conf = tmp_.path() + "/bad.conf";
  std::ofstream(conf) << "capacity = 8\ncapcity = 16\n";
  const auto bad = test::RunCommand({daemon, "--queue", queue_, "--dir", wal_, "--config", conf});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(conf + ":2"), std::string::npos) << bad.err;
  const auto version = test::RunCommand({daemon, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("taskringd ", 0), 0u) << version.out;
  EXPECT_TRUE(ShmEntries().empty());
}

}  // namespace
}  // namespace taskring
