// `taskring queue list` finds every queue on the host from /dev/shm, with its daemon's state and
// metrics address (--json, --file-sd for Prometheus), and survives a garbage segment file.
// Also `taskring --version`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "test_util.h"

namespace taskring {
namespace {

using nlohmann::json;
using test::CommandResult;
using test::Daemon;
using test::RunCommand;

std::string Cli() { return test::BinDir() + "/taskring"; }

// `taskring queue list <flag>` parsed as JSON; fails the test on a bad exit code or JSON.
json ListJson(const std::string& flag) {
  const CommandResult r = RunCommand({Cli(), "queue", "list", flag});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_array()) << r.out;
  return j.is_array() ? j : json::array();
}

// The object of `queue` in a --json listing (null when absent).
json Row(const json& list, const std::string& queue) {
  for (const json& q : list) {
    if (q.value("queue", "") == queue) return q;
  }
  return nullptr;
}

// The target of `queue` in a --file-sd listing ("" when absent).
std::string Target(const json& groups, const std::string& queue) {
  for (const json& g : groups) {
    if (g["labels"]["queue"] == queue) {
      EXPECT_EQ(g["targets"].size(), 1u) << g.dump();
      return g["targets"][0].get<std::string>();
    }
  }
  return "";
}

uint32_t StatMetricsPort(const std::string& queue) {
  const CommandResult r = RunCommand({Cli(), "stat", "--queue", queue, "--json"});
  const json j = json::parse(r.out, nullptr, false);
  return j.is_object() ? j.value("metrics_port", 0u) : 0u;
}

class QueueListTest : public ::testing::Test {
 protected:
  std::string a_ = test::UniqueQueueName("qla");
  std::string b_ = test::UniqueQueueName("qlb");
  test::TempDir tmp_;
};

TEST_F(QueueListTest, ListsEveryQueueWithItsStateNumbersAndMetricsAddress) {
  Daemon a(a_, tmp_.path() + "/a", {"--metrics-listen", "127.0.0.1:0", "--capacity", "50"});
  Daemon b(b_, tmp_.path() + "/b", {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  {
    std::unique_ptr<Producer> p = test::OpenProducer(a_);
    ASSERT_NE(p, nullptr);
    uint64_t id = 0;
    for (int i = 0; i < 3; ++i) ASSERT_OK(p->Enqueue("job", &id));
  }
  const uint32_t port_a = StatMetricsPort(a_), port_b = StatMetricsPort(b_);
  ASSERT_NE(port_a, 0u);
  ASSERT_NE(port_b, 0u);
  const std::string addr_a = "127.0.0.1:" + std::to_string(port_a);
  const std::string addr_b = "127.0.0.1:" + std::to_string(port_b);

  const json list = ListJson("--json");
  const json ra = Row(list, a_), rb = Row(list, b_);
  ASSERT_TRUE(ra.is_object()) << list.dump();
  ASSERT_TRUE(rb.is_object()) << list.dump();
  EXPECT_EQ(ra["state"], "running");
  EXPECT_EQ(ra["daemon_pid"], a.pid());
  EXPECT_EQ(ra["capacity"], 50);
  EXPECT_EQ(ra["depth"], 3);
  EXPECT_EQ(ra["outstanding"], 3);
  EXPECT_EQ(ra["workers"], 0);
  EXPECT_EQ(ra["metrics_port"], port_a);
  EXPECT_EQ(ra["metrics"], addr_a);
  EXPECT_EQ(ra["wal_dir"], tmp_.path() + "/a");
  EXPECT_FALSE(ra.contains("error")) << ra.dump();
  EXPECT_EQ(rb["state"], "running");
  EXPECT_EQ(rb["daemon_pid"], b.pid());
  EXPECT_EQ(rb["metrics"], addr_b);

  const json sd = ListJson("--file-sd");
  EXPECT_EQ(Target(sd, a_), addr_a) << sd.dump();
  EXPECT_EQ(Target(sd, b_), addr_b) << sd.dump();
  for (const json& g : sd) {
    EXPECT_EQ(g.size(), 2u) << "targets and labels only: " << g.dump();
  }

  const CommandResult text = RunCommand({Cli(), "queue", "list"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("QUEUE", 0), 0u) << text.out;
  const std::regex row_a("(^|\n)" + a_ + " +running +" + std::to_string(a.pid()) +
                         " +3/50 +3 +0 +0 +" + addr_a + " +" + tmp_.path() + "/a\n");
  EXPECT_TRUE(std::regex_search(text.out, row_a)) << text.out;

  // A stopped daemon removes its segment: the queue is gone from the list.
  EXPECT_EQ(b.Stop(), 0);
  const json after = ListJson("--json");
  EXPECT_TRUE(Row(after, a_).is_object()) << after.dump();
  EXPECT_TRUE(Row(after, b_).is_null()) << after.dump();
  EXPECT_EQ(Target(ListJson("--file-sd"), b_), "");
}

TEST_F(QueueListTest, AKilledDaemonIsDeadAndNotAScrapeTarget) {
  Daemon a(a_, tmp_.path() + "/a", {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(a.Start());
  a.Kill();  // the segment stays behind, its life mutex marked OWNER_DIED
  const json ra = Row(ListJson("--json"), a_);
  ASSERT_TRUE(ra.is_object());
  EXPECT_EQ(ra["state"], "dead") << ra.dump();
  EXPECT_EQ(Target(ListJson("--file-sd"), a_), "");
}

TEST_F(QueueListTest, AGarbageSegmentIsAnErrorRowNotACrash) {
  Daemon a(a_, tmp_.path() + "/a", {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(a.Start());
  const std::string junk = test::UniqueQueueName("junk");
  const std::string small = test::UniqueQueueName("small");
  struct Unlink {
    std::vector<std::string> paths;
    ~Unlink() {
      for (const std::string& p : paths) ::unlink(p.c_str());
    }
  } cleanup{{"/dev/shm/taskring." + junk, "/dev/shm/taskring." + small}};
  {
    const int fd = ::open(cleanup.paths[0].c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    const std::string garbage(8192, 'x');  // big enough to map, wrong magic
    ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
    ::close(fd);
    const int fd2 = ::open(cleanup.paths[1].c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ASSERT_GE(fd2, 0);
    ASSERT_EQ(::write(fd2, "hello", 5), 5);  // truncated
    ::close(fd2);
  }
  const json list = ListJson("--json");
  for (const std::string& q : {junk, small}) {
    const json r = Row(list, q);
    ASSERT_TRUE(r.is_object()) << list.dump();
    EXPECT_EQ(r["state"], "error");
    EXPECT_FALSE(r.value("error", "").empty()) << r.dump();
    EXPECT_FALSE(r.contains("metrics")) << r.dump();
  }
  EXPECT_EQ(Row(list, a_)["state"], "running") << "the other queues are still listed";
  EXPECT_EQ(Target(ListJson("--file-sd"), junk), "");

  const CommandResult text = RunCommand({Cli(), "queue", "list"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("(^|\n)" + junk + " +error +\\S")))
      << text.out;
  EXPECT_NE(text.out.find(a_), std::string::npos);
}

TEST(QueueCommandTest, WrongUseIsAOneLineErrorWithExitTwo) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"queue"},
                                               {"queue", "nope"},
                                               {"queue", "list", "--bogus"},
                                               {"queue", "list", "--json", "--json"},
                                               {"queue", "list", "--json", "--file-sd"}}) {
    std::vector<std::string> argv = {Cli()};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << args.back();
    EXPECT_FALSE(r.err.empty());
  }
  const CommandResult help = RunCommand({Cli(), "queue", "list", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--file-sd"), std::string::npos);
  EXPECT_NE(RunCommand({Cli(), "--help"}).out.find("queue list"), std::string::npos);
}

TEST(VersionTest, TaskringPrintsTheProjectVersion) {
  const CommandResult a = RunCommand({Cli(), "--version"});
  const CommandResult b = RunCommand({Cli(), "version"});
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(b.exit_code, 0);
  EXPECT_TRUE(std::regex_match(a.out, std::regex("taskring [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << a.out;
  EXPECT_EQ(a.out, b.out);
}

}  // namespace
}  // namespace taskring
