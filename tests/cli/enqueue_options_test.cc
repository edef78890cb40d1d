// What a job carries in from the command line (issue 12): `taskring enqueue` --priority, --type,
// --timeout-ms, --header, --run-at and --keyed, and what `taskring worker` makes of them
// (--type, the TASKRING_* environment of --exec commands). A real taskringd, the real CLI.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace taskring {
namespace {

using test::CommandResult;
using test::Daemon;
using test::RunCommand;

std::string Cli() { return test::BinDir() + "/taskring"; }

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class JobOptionsTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("opts");
  test::TempDir tmp_;
  std::string wal() const { return tmp_.path() + "/wal"; }

  CommandResult Enqueue(std::vector<std::string> args, const std::string& input) {
    std::vector<std::string> argv = {Cli(), "enqueue", "--queue", queue_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, input);
  }
  // `taskring worker --print` until it has been idle for a second: the payloads it took.
  std::string PrintWorker(std::vector<std::string> args) {
    std::vector<std::string> argv = {Cli(),     "worker",      "--queue", queue_,
                                     "--print", "--idle-exit", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
};

TEST_F(JobOptionsTest, PriorityTypeTimeoutAndHeadersReachTheExecCommandsEnvironment) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const CommandResult e =
      Enqueue({"--priority", "7", "--type", "email.send", "--timeout-ms", "60000", "--header",
               "trace-id=abc=1", "--header", "Tenant.Name=acme corp", "--header", "trace_id=2"},
              "hello\n");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  ASSERT_EQ(test::IdNumbers()(e.out), "accepted 1\n");

  const std::string env = tmp_.path() + "/env";
  const CommandResult w =
      RunCommand({Cli(), "worker", "--queue", queue_, "--max-jobs", "1", "--type", "email.send",
                  "--exec", "env | grep '^TASKRING_' | sort > " + env});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  const std::vector<std::string> vars = Lines(test::IdNumbers()(ReadFile(env)));
  for (const std::string want :
       {"TASKRING_ATTEMPT=1", "TASKRING_JOB_ID=1", "TASKRING_PROGRESS_FD=3", "TASKRING_PRIORITY=7",
        "TASKRING_TYPE=email.send", "TASKRING_TIMEOUT_MS=60000",
        // Upper-cased, other characters '_'; the value keeps its '=' and blanks; of two names
        // with one variable (trace-id, trace_id) the first wins.
        "TASKRING_HEADER_TRACE_ID=abc=1", "TASKRING_HEADER_TENANT_NAME=acme corp"}) {
    EXPECT_NE(std::find(vars.begin(), vars.end(), want), vars.end()) << want << "\n"
                                                                     << ReadFile(env);
  }
  EXPECT_EQ(vars.size(), 8u) << ReadFile(env);
}

TEST_F(JobOptionsTest, PlainJobsHaveTheDefaultPriorityAndNoType) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(Enqueue({}, "plain\n").exit_code, 0);
  const std::string env = tmp_.path() + "/env";
  const CommandResult w = RunCommand({Cli(), "worker", "--queue", queue_, "--max-jobs", "1",
                                      "--exec", "env | grep '^TASKRING_' | sort > " + env});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  const std::string vars = ReadFile(env);
  EXPECT_NE(vars.find("TASKRING_PRIORITY=5\n"), std::string::npos) << vars;
  EXPECT_NE(vars.find("TASKRING_TYPE=\n"), std::string::npos) << vars;
  EXPECT_EQ(vars.find("TASKRING_HEADER_"), std::string::npos) << vars;
}

TEST_F(JobOptionsTest, KeyedRepeatedKeyAnswersTheFirstIdAsDuplicateAndCreatesOneJob) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const CommandResult r = Enqueue({"--keyed"}, "k1\tone\nk2\ttwo\nk1\tagain\nno tab\n\tempty\n");
  EXPECT_EQ(r.exit_code, 1) << "error lines make exit 1\n" << r.err;
  test::IdNumbers ids;
  EXPECT_EQ(ids(r.out),
            "accepted 1\naccepted 2\naccepted 1 duplicate\n"
            "error no tab: a --keyed record is KEY<TAB>PAYLOAD\n"
            "error empty key: a --keyed record needs one\n");
  // A later command, JSON lines: the key is still known.
  const CommandResult j = Enqueue({"--keyed", "--json-lines"},
                                  "{\"key\": \"k2\", \"payload\": \"x\"}\n"
                                  "{\"key\": \"k3\", \"payload\": \"three\"}\n");
  EXPECT_EQ(j.exit_code, 0) << j.err;
  const std::vector<std::string> answers = Lines(ids(j.out));
  ASSERT_EQ(answers.size(), 2u) << j.out;
  EXPECT_EQ(answers[0], "accepted 2 duplicate");
  // A new job's id: ids are unique, not dense (a duplicate may use one up).
  EXPECT_EQ(answers[1].rfind("accepted ", 0), 0u) << j.out;
  EXPECT_EQ(answers[1].find("duplicate"), std::string::npos) << j.out;
  EXPECT_NE(answers[1], "accepted 1");
  EXPECT_EQ(PrintWorker({}), "one\ntwo\nthree\n") << "one job per key";
}

TEST_F(JobOptionsTest, AJobsOwnTimeoutStopsItsExecCommand) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(Enqueue({"--timeout-ms", "300", "--max-attempts", "1"}, "slow\n").exit_code, 0);
  const CommandResult w = RunCommand(
      {Cli(), "worker", "--queue", queue_, "--max-jobs", "1", "--exec", "exec sleep 30"});
  EXPECT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(test::IdNumbers()(w.err).find("job 1 attempt 1 failed timeout=300ms signal=SIGTERM"),
            std::string::npos)
      << w.err;
}

TEST_F(JobOptionsTest, RunAtInTheFutureHoldsTheJobBack) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const CommandResult r = Enqueue({"--run-at", "2099-01-01T00:00:00+01:00"}, "later\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CommandResult now = Enqueue({"--run-at", "2001-01-01T00:00:00.5Z"}, "now\n");
  ASSERT_EQ(now.exit_code, 0) << now.err;
  EXPECT_EQ(PrintWorker({}), "now\n") << "a time in the past runs at once";
}

TEST_F(JobOptionsTest, BadJobOptionsAreUsageErrorsBeforeAnythingIsRead) {
  // No daemon: the flags are refused before the command looks for one.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--run-at", "2026-11-30 08:00"}, "--run-at: bad RFC 3339 time '2026-11-30 08:00'"},
      {{"--run-at", "2026-02-30T08:00:00Z"}, "no such day"},
      {{"--delay-ms", "5", "--run-at", "2026-11-30T08:00:00Z"}, "exclude each other"},
      {{"--priority", "10"}, "--priority needs a whole number in 0..9, not '10'"},
      {{"--header", "novalue"}, "--header needs NAME=VALUE, not 'novalue'"},
      {{"--header", "bad name=x"}, "--header bad name=x: "},
      {{"--header", "=x"}, "--header =x: "},
      {{"--type", "no spaces"}, "--type: "},
  };
  for (const auto& [args, message] : cases) {
    const CommandResult r = Enqueue(args, "payload\n");
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.out, "") << "nothing read, nothing answered";
  }
  std::vector<std::string> too_many;
  for (int i = 0; i <= 16; ++i) {
    too_many.push_back("--header");
    too_many.push_back("h" + std::to_string(i) + "=v");
  }
  const CommandResult r = Enqueue(too_many, "payload\n");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("17 headers are more than 16"), std::string::npos) << r.err;

  const CommandResult w =
      RunCommand({Cli(), "worker", "--queue", queue_, "--print", "--type", "bad type"});
  EXPECT_EQ(w.exit_code, 2) << w.err;
  EXPECT_NE(w.err.find("--type: "), std::string::npos) << w.err;
}

TEST_F(JobOptionsTest, TypedWorkersTakeOnlyTheirTypes) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(Enqueue({"--type", "alpha"}, "a1\na2\n").exit_code, 0);
  ASSERT_EQ(Enqueue({"--type", "beta"}, "b1\n").exit_code, 0);
  ASSERT_EQ(Enqueue({}, "u1\n").exit_code, 0);
  EXPECT_EQ(PrintWorker({"--type", "beta"}), "b1\n");
  EXPECT_EQ(PrintWorker({"--type", ""}), "u1\n") << "--type '' takes untyped jobs";
  EXPECT_EQ(PrintWorker({"--type", "gamma"}), "");
  EXPECT_EQ(PrintWorker({"--type", "gamma", "--type", "alpha"}), "a1\na2\n");
}

TEST_F(JobOptionsTest, HelpTextsDescribeTheNewOptions) {
  const CommandResult e = RunCommand({Cli(), "enqueue", "--help"});
  EXPECT_EQ(e.exit_code, 0);
  for (const char* word :
       {"--priority", "--type", "--delay-ms", "--run-at", "RFC 3339", "--timeout-ms",
        "--header K=V", "--keyed", "KEY<TAB>PAYLOAD", "accepted <id> duplicate"}) {
    EXPECT_NE(e.out.find(word), std::string::npos) << word;
  }
  const CommandResult w = RunCommand({Cli(), "worker", "--help"});
  EXPECT_EQ(w.exit_code, 0);
  for (const char* word :
       {"--type", "TASKRING_TYPE", "TASKRING_PRIORITY", "TASKRING_HEADER_<NAME>", "upper-cased"}) {
    EXPECT_NE(w.out.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace taskring
