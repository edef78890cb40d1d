// taskring enqueue: input framing (lines with CRLF, NUL-separated, JSON lines), the record
// reader on its own (no daemon), --retry-busy, --wait, and a daemon restart or crash in the
// middle of a stream.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "cli/enqueue_input.h"
#include "segment/segment.h"
#include "test_util.h"

namespace taskring {
namespace {

using cli::InputFormat;
using cli::ParsedRecord;
using cli::RawRecord;
using cli::RecordReader;
using test::CommandResult;
using test::Daemon;
using test::RunCommand;

std::string Cli() { return test::BinDir() + "/taskring"; }

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The record reader and parser, without a daemon.

// Feeds `input` to a reader `chunk` bytes per read.
struct StringInput {
  std::string input;
  size_t chunk;
  size_t pos = 0;
  RecordReader Reader(InputFormat f, size_t max_record) {
    return RecordReader(
        f,
        [this](char* buf, size_t len) -> ssize_t {
          const size_t n = std::min({len, chunk, input.size() - pos});
          std::memcpy(buf, input.data() + pos, n);
          pos += n;
          return static_cast<ssize_t>(n);
        },
        [this] { return pos < input.size(); }, max_record);
  }
};

// Every record as "<data>" or "#<size>" (oversized).
std::vector<std::string> ReadAll(InputFormat f, const std::string& input, size_t chunk = 1 << 20,
                                 size_t max_record = 1000) {
  StringInput in{input, chunk};
  RecordReader reader = in.Reader(f, max_record);
  std::vector<std::string> out;
  RawRecord r;
  while (reader.Next(&r) == RecordReader::Result::kRecord) {
    out.push_back(r.oversized ? "#" + std::to_string(r.size) : r.data);
  }
  return out;
}

using V = std::vector<std::string>;

TEST(RecordReaderTest, LinesStripOneCarriageReturnAndKeepEmptyRecords) {
  for (size_t chunk : {1, 2, 3, 1 << 20}) {
    EXPECT_EQ(ReadAll(InputFormat::kLines, "a\r\nb\n\nc\r\n\r\nd", chunk),
              (V{"a", "b", "", "c", "", "d"}))
        << chunk;
    EXPECT_EQ(ReadAll(InputFormat::kLines, "x\r\r\n a\rb \n", chunk), (V{"x\r", " a\rb "}));
  }
  EXPECT_EQ(ReadAll(InputFormat::kLines, ""), V{});
  EXPECT_EQ(ReadAll(InputFormat::kLines, "\n"), V{""});
  EXPECT_EQ(ReadAll(InputFormat::kLines, "last"), V{"last"});
}

TEST(RecordReaderTest, NulSeparatedKeepsNewlinesAndCarriageReturnsAndNoTrailingEmptyRecord) {
  using namespace std::string_literals;
  for (size_t chunk : {1, 4, 1 << 20}) {
    EXPECT_EQ(ReadAll(InputFormat::kNull, "multi\nline\r\n\0second\0"s, chunk),
              (V{"multi\nline\r\n", "second"}))
        << chunk;
    EXPECT_EQ(ReadAll(InputFormat::kNull, "a\0\0b"s, chunk), (V{"a", "", "b"}));
  }
  EXPECT_EQ(ReadAll(InputFormat::kNull, "\0"s), V{""});
  EXPECT_EQ(ReadAll(InputFormat::kNull, ""), V{});
}

TEST(RecordReaderTest, OversizedRecordsAreCountedNotKept) {
  for (size_t chunk : {1, 3, 1 << 20}) {
    EXPECT_EQ(ReadAll(InputFormat::kLines, "abcd\nabcdefghij\nok\nabcdefg", chunk, 4),
              (V{"abcd", "#10", "ok", "#7"}))
        << chunk;
  }
}

TEST(RecordReaderTest, MoreWithoutBlockingOnlyWhenAWholeRecordIsAtHand) {
  StringInput in{"one\ntw", 1 << 20};
  RecordReader reader = in.Reader(InputFormat::kLines, 100);
  RawRecord r;
  ASSERT_EQ(reader.Next(&r), RecordReader::Result::kRecord);
  EXPECT_EQ(r.data, "one");
  // "tw" is buffered but unfinished and the input has nothing ready: the caller must flush.
  EXPECT_FALSE(reader.MoreWithoutBlocking());
  in.input += "o\n";
  EXPECT_TRUE(reader.MoreWithoutBlocking());
  ASSERT_EQ(reader.Next(&r), RecordReader::Result::kRecord);
  EXPECT_EQ(r.data, "two");
}

TEST(RecordReaderTest, ReadErrorIsReportedAfterTheRecordsBeforeIt) {
  bool failed = false;
  RecordReader reader(
      InputFormat::kLines,
      [&](char* buf, size_t len) -> ssize_t {
        if (failed) {
          errno = EIO;
          return -1;
        }
        failed = true;
        std::memcpy(buf, "a\nb", 3);
        return 3;
      },
      [] { return true; }, 100);
  RawRecord r;
  ASSERT_EQ(reader.Next(&r), RecordReader::Result::kRecord);
  EXPECT_EQ(r.data, "a");
  ASSERT_EQ(reader.Next(&r), RecordReader::Result::kRecord);
  EXPECT_EQ(r.data, "b");
  EXPECT_EQ(reader.Next(&r), RecordReader::Result::kError);
  EXPECT_NE(reader.error().find("cannot read input"), std::string::npos) << reader.error();
}

std::string Describe(const ParsedRecord& p) {
  switch (p.kind) {
    case ParsedRecord::Kind::kPayload: return "payload " + p.payload;
    case ParsedRecord::Kind::kSkipEmpty: return "skip";
    case ParsedRecord::Kind::kError: return "error " + p.error;
  }
  return "?";
}

std::string Parse(InputFormat f, std::string data) {
  RawRecord r;
  r.size = data.size();
  r.data = std::move(data);
  return Describe(cli::ParseRecord(f, std::move(r), 4096));
}

TEST(ParseRecordTest, JsonLines) {
  const auto j = InputFormat::kJsonLines;
  EXPECT_EQ(Parse(j, R"({"payload": "hello world"})"), "payload hello world");
  EXPECT_EQ(Parse(j, R"(  {"payload":"a\nb\u00e9"} )"), "payload a\nb\xc3\xa9");
  EXPECT_EQ(Parse(j, R"({"payload": ""})"), "skip");
  EXPECT_EQ(Parse(j, ""), "skip");
  EXPECT_EQ(Parse(j, " \t"), "skip");
  EXPECT_EQ(Parse(j, R"({})"), R"(error missing field "payload")");
  EXPECT_EQ(Parse(j, R"({"payload": 5})"), R"(error field "payload" must be a string, got number)");
  EXPECT_EQ(Parse(j, R"({"payload": null})"),
            R"(error field "payload" must be a string, got null)");
  EXPECT_EQ(Parse(j, R"({"payload": "x", "priority": 3})"),
            R"(error unknown field "priority" (known: "payload"))");
  EXPECT_EQ(Parse(j, "{\"a\\nb\": 1}"), R"(error unknown field "a\nb" (known: "payload"))")
      << "a key prints escaped, on one line";
  EXPECT_EQ(Parse(j, R"(["payload"])"),
            R"(error expected a JSON object like {"payload": "..."}, got array)");
  const std::string bad = Parse(j, R"({"payload": "x")");
  EXPECT_EQ(bad.rfind("error invalid JSON: parse error at line 1, column ", 0), 0u) << bad;
  EXPECT_EQ(bad.find('\n'), std::string::npos) << bad;
  EXPECT_EQ(Parse(j, "{\"payload\": \"\xff\"}").rfind("error invalid JSON: ", 0), 0u);
}

TEST(ParseRecordTest, PlainRecords) {
  EXPECT_EQ(Parse(InputFormat::kLines, "x"), "payload x");
  EXPECT_EQ(Parse(InputFormat::kLines, ""), "skip");
  EXPECT_EQ(Parse(InputFormat::kNull, "{not json"), "payload {not json");
  RawRecord big;
  big.size = 5000;
  big.oversized = true;
  EXPECT_EQ(Describe(cli::ParseRecord(InputFormat::kLines, std::move(big), 4096)),
            "error payload of 5000 bytes exceeds the queue's max payload of 4096");
}

std::string ParseKeyed(InputFormat f, std::string data) {
  RawRecord r;
  r.size = data.size();
  r.data = std::move(data);
  const ParsedRecord p = cli::ParseRecord(f, std::move(r), 4096, /*keyed=*/true);
  return p.kind == ParsedRecord::Kind::kPayload ? "key " + p.key + " " + Describe(p) : Describe(p);
}

TEST(ParseRecordTest, KeyedRecordsSplitAtTheFirstTabOrAnswerAnError) {
  const auto l = InputFormat::kLines;
  EXPECT_EQ(ParseKeyed(l, "order-17\thello\tworld"), "key order-17 payload hello\tworld");
  EXPECT_EQ(ParseKeyed(InputFormat::kNull, "k\tmulti\nline"), "key k payload multi\nline");
  EXPECT_EQ(ParseKeyed(l, "no tab here"), "error no tab: a --keyed record is KEY<TAB>PAYLOAD");
  EXPECT_EQ(ParseKeyed(l, "\tpayload"), "error empty key: a --keyed record needs one");
  EXPECT_EQ(ParseKeyed(l, "k\t"), "skip");
  EXPECT_EQ(ParseKeyed(l, ""), "skip");
  EXPECT_EQ(ParseKeyed(l, "a key\tx").rfind("error ", 0), 0u) << "a blank is not visible ASCII";
  EXPECT_EQ(ParseKeyed(l, std::string(kMaxKeyBytes + 1, 'k') + "\tx").rfind("error ", 0), 0u);

  const auto j = InputFormat::kJsonLines;
  EXPECT_EQ(ParseKeyed(j, R"({"key": "k1", "payload": "x"})"), "key k1 payload x");
  EXPECT_EQ(ParseKeyed(j, R"({"payload": "x"})"), R"(error missing field "key" (--keyed))");
  EXPECT_EQ(ParseKeyed(j, R"({"key": 3, "payload": "x"})"),
            R"(error field "key" must be a string, got number)");
  EXPECT_EQ(ParseKeyed(j, R"({"key": "", "payload": "x"})"),
            "error empty key: a --keyed record needs one");
  EXPECT_EQ(ParseKeyed(j, R"({"key": "k", "payload": "x", "type": "t"})"),
            R"(error unknown field "type" (known: "payload", "key"))");
  EXPECT_EQ(Parse(j, R"({"key": "k", "payload": "x"})"), R"(error field "key" needs --keyed)");
  EXPECT_EQ(Parse(l, "k\tx"), "payload k\tx") << "without --keyed a tab is payload";
}

// ---------------------------------------------------------------------------------------------
// The command against a real daemon.

// The CLI with stdin and stdout on pipes the test drives, for streams that outlive a daemon.
class Streaming {
 public:
  explicit Streaming(std::vector<std::string> args) {
    ::signal(SIGPIPE, SIG_IGN);
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = test::Spawn(std::move(args), in[0], out[1]);
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~Streaming() {
    CloseInput();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      test::WaitChild(pid_);
    }
    if (out_ >= 0) ::close(out_);
  }
  void Write(const std::string& s) {
    ASSERT_EQ(::write(in_, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  void CloseInput() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }
  // All output so far, once it holds at least n lines (or timeout_s passed: a failure bound).
  std::string ReadLines(size_t n, int timeout_s = 30) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (static_cast<size_t>(std::count(out_text_.begin(), out_text_.end(), '\n')) < n &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t got = ::read(out_, buf, sizeof(buf));
      if (got <= 0) break;
      out_text_.append(buf, static_cast<size_t>(got));
    }
    return out_text_;
  }
  // Closes stdin, reads the rest of the output, and returns the exit code.
  int Finish(int timeout_s = 30) {
    CloseInput();
    ReadLines(SIZE_MAX, timeout_s);
    const pid_t pid = pid_;
    pid_ = -1;
    return test::WaitChild(pid);
  }
  const std::string& out() const { return out_text_; }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string out_text_;
};

class EnqueueTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("enq");
  test::TempDir tmp_;
  std::string wal() const { return tmp_.path() + "/wal"; }

  // Every job's payload, newline-terminated, in the order taken (a worker through the library:
  // it stops after max_jobs, or once the queue stays empty for idle_ms).
  std::string Drain(int max_jobs = 0, uint32_t idle_ms = 500) {
    WorkerOptions wo;
    wo.queue = queue_;
    wo.wait_for_daemon_ms = 10000;
    std::unique_ptr<Worker> w;
    Status s = Worker::Open(wo, &w);
    EXPECT_OK(s);
    if (!s.ok()) return "";
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int n = 0; (max_jobs == 0 || n < max_jobs) && std::chrono::steady_clock::now() < deadline;
         ++n) {
      Job job;
      s = w->Take(&job, max_jobs != 0 ? 1000 : idle_ms);
      if (s.IsTimedOut() && max_jobs != 0) {
        --n;
        continue;
      }
      if (s.IsTimedOut()) break;
      EXPECT_OK(s) << "after " << n << " jobs";
      if (!s.ok()) break;
      out += std::string(job.payload()) + "\n";
      EXPECT_OK(w->Complete(job));
    }
    return out;
  }
};

TEST_F(EnqueueTest, CrlfInputIsStrippedOfItsCarriageReturn) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const CommandResult r =
      RunCommand({Cli(), "enqueue", "--queue", queue_}, "one\r\ntwo\r\nthree\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::IdNumbers()(r.out), "accepted 1\naccepted 2\naccepted 3\n");
  EXPECT_EQ(Drain(3), "one\ntwo\nthree\n") << "payload bytes hold no '\\r'";
}

TEST_F(EnqueueTest, NulSeparatedRecordsKeepTheirNewlines) {
  using namespace std::string_literals;
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  for (const std::string flag : {"-0", "--null"}) {
    const CommandResult r =
        RunCommand({Cli(), "enqueue", "--queue", queue_, flag}, "multi\nline\0second\r\n\0"s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Lines(r.out).size(), 2u) << flag << ": the trailing NUL adds no record\n" << r.out;
  }
  EXPECT_EQ(Drain(4), "multi\nline\nsecond\r\n\nmulti\nline\nsecond\r\n\n");
}

TEST_F(EnqueueTest, JsonLinesAnswerEachLineInOrderAndBadLinesLoseNothingElse) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  const CommandResult r = RunCommand({Cli(), "enqueue", "--queue", queue_, "--json-lines"},
                                     "{\"payload\": \"hello\\tworld\"}\n"
                                     "{\"payload\": \"broken\n"
                                     "{\"other\": \"x\"}\n"
                                     "{}\r\n"
                                     "{\"payload\": 7}\n"
                                     "{\"payload\": \"\"}\n"
                                     "{\"payload\": \"last\"}");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::vector<std::string> lines = Lines(test::IdNumbers()(r.out));
  ASSERT_EQ(lines.size(), 7u) << r.out;
  EXPECT_EQ(lines[0], "accepted 1");
  EXPECT_EQ(lines[1].rfind("error invalid JSON: parse error at line 1, column ", 0), 0u)
      << lines[1];
  EXPECT_EQ(lines[2], "error unknown field \"other\" (known: \"payload\")");
  EXPECT_EQ(lines[3], "error missing field \"payload\"");
  EXPECT_EQ(lines[4], "error field \"payload\" must be a string, got number");
  EXPECT_EQ(lines[5], "skipped empty");
  EXPECT_EQ(lines[6], "accepted 2");
  EXPECT_EQ(Drain(2), "hello\tworld\nlast\n");
}

TEST_F(EnqueueTest, EmptyRecordsAreSkippedNotEnqueued) {
  using namespace std::string_literals;
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  CommandResult r = RunCommand({Cli(), "enqueue", "--queue", queue_}, "a\n\n\r\nb\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  test::IdNumbers ids;
  EXPECT_EQ(ids(r.out), "accepted 1\nskipped empty\nskipped empty\naccepted 2\n");
  r = RunCommand({Cli(), "enqueue", "--queue", queue_, "-0"}, "c\0\0d"s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ids(r.out), "accepted 3\nskipped empty\naccepted 4\n");
  EXPECT_EQ(Drain(4), "a\nb\nc\nd\n");
}

TEST_F(EnqueueTest, RetryBusyTurnsBusyIntoAcceptedWhileAWorkerDrains) {
  Daemon d(queue_, wal(), {"--capacity", "2"});
  ASSERT_TRUE(d.Start());
  std::string input, expected_out, expected_payloads;
  for (int i = 1; i <= 12; ++i) {
    input += "job" + std::to_string(i) + "\n";
    expected_payloads += "job" + std::to_string(i) + "\n";
  }
  std::string drained;
  std::thread worker([&] { drained = Drain(12); });
  const CommandResult r =
      RunCommand({Cli(), "enqueue", "--queue", queue_, "--retry-busy", "30"}, input);
  worker.join();
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::vector<std::string> lines = Lines(r.out);
  EXPECT_EQ(lines.size(), 12u) << r.out;
  for (const std::string& l : lines) EXPECT_EQ(l.rfind("accepted ", 0), 0u) << r.out;
  std::vector<std::string> got = Lines(drained), want = Lines(expected_payloads);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST_F(EnqueueTest, RetryBusyStillAnswersBusyWhenNothingDrains) {
  Daemon d(queue_, wal(), {"--capacity", "1"});
  ASSERT_TRUE(d.Start());
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r =
      RunCommand({Cli(), "enqueue", "--queue", queue_, "--retry-busy", "1"}, "a\nb\n");
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_EQ(test::IdNumbers()(r.out), "accepted 1\nbusy\n");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900))
      << "retried for about the second it was given";
}

TEST_F(EnqueueTest, WaitCoversADaemonStartedAfterTheCommand) {
  CommandResult r;
  std::thread cli([&] {
    r = RunCommand({Cli(), "enqueue", "--queue", queue_, "--wait", "30"}, "x\ny\n", 40);
  });
  // Whether the command got to wait before the daemon came up or not, it must succeed; the
  // pause only makes the interesting order (command first) the likely one.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  cli.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::IdNumbers()(r.out), "accepted 1\naccepted 2\n");
}

TEST_F(EnqueueTest, WithoutWaitAMissingDaemonFailsAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = RunCommand({Cli(), "enqueue", "--queue", queue_}, "x\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

// Output lines of a stream: every one "accepted <id>", ids distinct.
void ExpectAllAcceptedOnce(const std::string& out, size_t n) {
  const std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), n) << out;
  std::map<std::string, int> ids;
  for (const std::string& l : lines) {
    EXPECT_EQ(l.rfind("accepted ", 0), 0u) << out;
    EXPECT_EQ(++ids[l], 1) << "id given twice: " << l;
  }
}

void ExpectEachPayloadOnce(const std::string& drained, const std::vector<std::string>& payloads) {
  std::vector<std::string> got = Lines(drained), want = payloads;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want) << drained;
}

TEST_F(EnqueueTest, StreamCarriesOnAcrossADaemonRestart) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  Streaming cli({Cli(), "enqueue", "--queue", queue_, "--wait", "30"});
  cli.Write("a1\na2\na3\n");
  ASSERT_EQ(Lines(cli.ReadLines(3)).size(), 3u) << cli.out();
  EXPECT_EQ(d.Stop(), 0);
  ASSERT_TRUE(d.Start());
  cli.Write("b1\nb2\n");
  ASSERT_EQ(Lines(cli.ReadLines(5)).size(), 5u) << cli.out();
  cli.Write("c1\n");
  EXPECT_EQ(cli.Finish(), 0);
  ExpectAllAcceptedOnce(cli.out(), 6);
  ExpectEachPayloadOnce(Drain(), {"a1", "a2", "a3", "b1", "b2", "c1"});
}

TEST_F(EnqueueTest, StreamWaitsOutADaemonCrashAndSubmitsWhatItHeldBack) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  Streaming cli({Cli(), "enqueue", "--queue", queue_, "--wait", "30"});
  cli.Write("a1\na2\n");
  ASSERT_EQ(Lines(cli.ReadLines(2)).size(), 2u) << cli.out();
  d.Kill();
  // Written while no daemon runs: the command finds the dead one, waits, then submits them.
  cli.Write("b1\nb2\nb3\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Lines(cli.out()).size(), 2u) << "no answer while it waits";
  ASSERT_TRUE(d.Start());
  ASSERT_EQ(Lines(cli.ReadLines(5)).size(), 5u) << cli.out();
  cli.Write("c1\n");
  EXPECT_EQ(cli.Finish(), 0);
  ExpectAllAcceptedOnce(cli.out(), 6);
  ExpectEachPayloadOnce(Drain(), {"a1", "a2", "b1", "b2", "b3", "c1"});
}

// True once some client has pushed a record the daemon has not committed.
bool UncommittedRecord(const std::string& queue) {
  std::unique_ptr<segment::Segment> seg;
  if (!segment::Segment::Attach(queue, /*read_only=*/true, &seg).ok()) return false;
  for (uint32_t i = 0; i < seg->params().max_clients; ++i) {
    const segment::ClientEntry* e = seg->client(i);
    if (e->tail.load() > e->committed.load()) return true;
  }
  return false;
}

TEST_F(EnqueueTest, AJobTheDaemonNeverConfirmedIsReportedUnknownAndNotResubmitted) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  Streaming cli({Cli(), "enqueue", "--queue", queue_, "--wait", "30"});
  cli.Write("a\n");
  ASSERT_EQ(cli.ReadLines(1).rfind("accepted ", 0), 0u);
  // Freeze the daemon, hand it a job, and kill it once the job is in its lane: the command
  // cannot know whether it was logged.
  ASSERT_EQ(::kill(d.pid(), SIGSTOP), 0);
  cli.Write("b\n");
  for (int i = 0; i < 3000 && !UncommittedRecord(queue_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(UncommittedRecord(queue_));
  d.Kill();
  const std::vector<std::string> lines = Lines(test::IdNumbers()(cli.ReadLines(2)));
  ASSERT_EQ(lines.size(), 2u) << cli.out();
  EXPECT_EQ(lines[1].rfind("unknown 2 Closed: ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("outcome unknown"), std::string::npos) << lines[1];
  ASSERT_TRUE(d.Start());
  cli.Write("c\n");
  EXPECT_EQ(cli.Finish(), 1) << "an unknown outcome is not a success";
  const std::vector<std::string> all = Lines(cli.out());
  ASSERT_EQ(all.size(), 3u) << cli.out();
  EXPECT_EQ(all[2].rfind("accepted ", 0), 0u) << cli.out();
  const std::string drained = Drain();
  EXPECT_NE(drained.find("a\n"), std::string::npos) << drained;
  EXPECT_NE(drained.find("c\n"), std::string::npos) << drained;
  EXPECT_LE(std::count(drained.begin(), drained.end(), 'b'), 1) << "b was not submitted twice";
}

TEST_F(EnqueueTest, GivingUpOnTheDaemonAnswersTheRestWithErrorAndExitsOne) {
  Daemon d(queue_, wal());
  ASSERT_TRUE(d.Start());
  Streaming cli({Cli(), "enqueue", "--queue", queue_, "--wait", "1"});
  cli.Write("a\n");
  ASSERT_EQ(cli.ReadLines(1).rfind("accepted ", 0), 0u);
  d.Kill();
  const auto start = std::chrono::steady_clock::now();
  cli.Write("b\nc\n");
  ASSERT_EQ(Lines(cli.ReadLines(3)).size(), 3u) << cli.out();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900))
      << "waited --wait 1 before giving up";
  cli.Write("d\n");
  EXPECT_EQ(cli.Finish(), 1);
  const std::vector<std::string> lines = Lines(cli.out());
  ASSERT_EQ(lines.size(), 4u) << cli.out();
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(lines[i].rfind("error ", 0), 0u) << cli.out();
    EXPECT_NE(lines[i].find("no daemon within --wait 1 s"), std::string::npos) << lines[i];
  }
}

TEST_F(EnqueueTest, WrongFlagsAreOneLineErrorsWithExitTwo) {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {Cli(), "enqueue", "--queue", queue_, "-0", "--json-lines"},
           {Cli(), "enqueue", "--queue", queue_, "--retry-busy", "soon"},
           {Cli(), "enqueue", "--queue", queue_, "--wait", "-1"},
           {Cli(), "enqueue", "--queue", queue_, "-z"},
       }) {
    const CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << argv[4] << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  }
  const CommandResult help = RunCommand({Cli(), "enqueue", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* word :
       {"--json-lines", "-0, --null", "accepted <id>", "busy", "skipped empty", "error <reason>",
        "unknown <id> <reason>", "--retry-busy", "--wait", "75"}) {
    EXPECT_NE(help.out.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace taskring
