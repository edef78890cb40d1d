// The load tool measures what it claims: every job accounted for, open-loop pacing honoured,
// and `taskring bench` runs its own daemon end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "loadgen/driver.h"
#include "loadgen/peers.h"
#include "test_util.h"

namespace taskring::loadgen {
namespace {

class LoadToolTest : public ::testing::Test {
 protected:
  std::string queue_ = test::UniqueQueueName("load");
  test::TempDir tmp_;
  LoadOptions Options() {
    LoadOptions o;
    o.scratch_dir = tmp_.path();
    o.timeout_s = 60;
    return o;
  }
};

TEST_F(LoadToolTest, ClosedLoopAccountsForEveryJobAcrossProcesses) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none", "--capacity", "16"});
  ASSERT_TRUE(d.Start());
  Target t;
  t.queue = queue_;
  LoadOptions o = Options();
  o.producers = 2;
  o.workers = 2;
  o.jobs = 1001;  // uneven split
  o.batch = 8;
  o.work_us = 300;  // two workers drain ~6000 jobs/s: slower than the producers can send
  o.work_sleeps = true;
  LoadResult r;
  ASSERT_OK(RunLoad(t, o, &r));
  EXPECT_EQ(r.accepted, 1001u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.duplicates, 0u) << "nobody died, so no job ran twice";
  EXPECT_EQ(r.enqueue.count, 1001u);
  EXPECT_EQ(r.handoff.count, 1001u);
  EXPECT_EQ(r.end_to_end.count, 1001u);
  EXPECT_LE(r.enqueue.p50, r.enqueue.p99);
  EXPECT_LE(r.end_to_end.p99, r.end_to_end.max);
  EXPECT_GT(r.jobs_per_second, 0);
  EXPECT_GT(r.cpu_us_per_job, 0);
  // Capacity 16, two producers of batches of 8 and slow workers: the queue must have said BUSY,
  // and the closed loop offered those jobs again until they were accepted.
  EXPECT_GT(r.busy, 0u);
}

TEST_F(LoadToolTest, OpenLoopKeepsToTheScheduleAndMeasuresFromIt) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none"});
  ASSERT_TRUE(d.Start());
  Target t;
  t.queue = queue_;
  LoadOptions o = Options();
  o.work_us = 20000;  // one worker at 50 jobs/s cannot keep up: waits must show
  o.work_sleeps = true;
  o.jobs = 60;
  o.rate = 200;  // 60 jobs due within 0.3 s; the worker needs 1.2 s
  LoadResult r;
  ASSERT_OK(RunLoad(t, o, &r));
  EXPECT_EQ(r.accepted, 60u);
  EXPECT_GE(r.seconds, 1.1) << "the last job finishes after 60 x 20 ms of work";
  // The last job was due at 0.3 s and finished at ~1.2 s: latency from its intended send time
  // includes its whole wait, so the max is near 0.9 s, not near the 20 ms of its own run.
  EXPECT_GT(r.end_to_end.max, 700'000.0);
  EXPECT_LT(r.enqueue.p50, 100'000.0) << "enqueue itself stayed fast";
}

TEST_F(LoadToolTest, BoostMessageQueueRunsTheSameWorkload) {
  Target t;
  t.kind = BackendKind::kBoostMq;
  t.queue = queue_;
  t.capacity = 128;
  LoadOptions o = Options();
  o.jobs = 2000;
  LoadResult r;
  ASSERT_OK(RunLoad(t, o, &r));
  RemoveBoostMq(queue_);
  EXPECT_EQ(r.accepted, 2000u);
  EXPECT_EQ(r.end_to_end.count, 2000u);
}

// /dev/shm entries of bench queues ("taskring.bench-<pid>", its lock and staging names).
std::set<std::string> BenchShmEntries() {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("taskring.bench-", 0) == 0) out.insert(name);
  }
  return out;
}

TEST_F(LoadToolTest, BenchCommandStartsItsOwnDaemonAndPrintsJson) {
  const std::set<std::string> before = BenchShmEntries();
  const test::CommandResult r = test::RunCommand(
      {test::BinDir() + "/taskring", "bench", "--jobs", "2000", "--producers", "2", "--workers",
       "2", "--durability", "fsync", "--batch", "16", "--json", "--disk-probe"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("{\"disk_probe\":{\"count\":2000,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"target\":\"taskring\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"accepted\":2000,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"end_to_end\":{\"count\":2000,"), std::string::npos) << r.out;
  EXPECT_EQ(BenchShmEntries(), before) << "the run's daemon left its segment or lock behind";
  const test::CommandResult bad =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--target", "kafka"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown --target"), std::string::npos) << bad.err;
}

// Processes named taskring-bench still running (the tool's busy loops are forks of it).
int BenchProcesses() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "taskring-bench") ++n;
  }
  return n;
}

TEST_F(LoadToolTest, ContentionRunsBusyLoopsBesideTheWorkloadAndStopsThem) {
  const test::CommandResult r =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--jobs", "2000", "--durability",
                        "none", "--contention", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"contention\":2,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"accepted\":2000,"), std::string::npos) << r.out;
  EXPECT_EQ(BenchProcesses(), 0) << "a busy loop outlived the run";
  // Two busy loops for the one-second run would add about 2000 us to each of its 1000 jobs if
  // their CPU were counted: compare with the same run without them.
  auto cpu_per_job = [](const std::string& contention) {
    const test::CommandResult paced =
        test::RunCommand({test::BinDir() + "/taskring", "bench", "--duration-s", "1", "--rate",
                          "1000", "--durability", "none", "--contention", contention, "--json"});
    EXPECT_EQ(paced.exit_code, 0) << paced.err;
    const size_t at = paced.out.find("\"cpu_us_per_job\":");
    return at == std::string::npos ? -1.0 : std::stod(paced.out.substr(at + 17));
  };
  const double quiet = cpu_per_job("0"), busy = cpu_per_job("2");
  ASSERT_GE(quiet, 0);
  EXPECT_LT(busy, quiet + 1000) << "the busy loops' CPU was counted (" << busy << " us per job "
                                << "against " << quiet << " without them)";
  const test::CommandResult bad =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--contention", "many"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--contention takes"), std::string::npos) << bad.err;
}

TEST_F(LoadToolTest, DurationRunsForTheTimeAskedNotAJobCount) {
  const test::CommandResult r =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--duration-s", "1", "--durability",
                        "none", "--rate", "2000", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"duration_s\":1,"), std::string::npos) << r.out;
  // Open loop at 2000 jobs/s for one second: about 2000 jobs, whatever --jobs says (100000).
  const size_t at = r.out.find("\"accepted\":");
  ASSERT_NE(at, std::string::npos) << r.out;
  const uint64_t accepted = std::stoull(r.out.substr(at + 11));
  EXPECT_GE(accepted, 1500u) << r.out;
  EXPECT_LE(accepted, 2001u) << r.out;
}

TEST_F(LoadToolTest, VsRunsThePeerInTheSameInvocationAndPrintsRatios) {
  const test::CommandResult r =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--jobs", "2000", "--durability",
                        "none", "--vs", "boost-mq", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"target\":\"taskring\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"target\":\"boost-mq\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"ratio\":{\"vs\":\"boost-mq\",\"jobs_per_second\":"), std::string::npos)
      << r.out;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
    EXPECT_EQ(e.path().filename().string().find("taskring-bench-vs-"), std::string::npos)
        << "the peer's queue was left behind: " << e.path();
  }
  const test::CommandResult bad =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--vs", "taskring"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--vs takes a peer target"), std::string::npos) << bad.err;
}

TEST_F(LoadToolTest, DaemonDefaultsStartsTaskringdAsAnApplicationGetsIt) {
  // --capacity 1 would make nearly every send BUSY; with --daemon-defaults it is not passed on,
  // and the daemon's default capacity (16384) takes 1000 jobs without one.
  const test::CommandResult r =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--jobs", "1000", "--durability",
                        "none", "--capacity", "1", "--daemon-defaults", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"daemon_defaults\":true,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"accepted\":1000,\"busy\":0,"), std::string::npos) << r.out;
}

// The job options of issue 12 (priority, type, headers, key, delay) reach every job: the
// receiver checks each job's type, fixed priority and header count and fails the run if one
// lost them, so a run that accounts for every job also says the options arrived.
TEST_F(LoadToolTest, JobOptionsReachEveryJob) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none"});
  ASSERT_TRUE(d.Start());
  auto run = [&](const JobOptions& job, uint32_t batch, LoadResult* r) {
    Target t;
    t.queue = queue_;
    t.job = job;
    t.take_batch = batch;
    LoadOptions o = Options();
    o.jobs = 400;
    o.batch = batch;
    return RunLoad(t, o, r);
  };
  LoadResult r;
  JobOptions typed;  // --type with a declaring worker: the offer path
  typed.priority = 7;
  typed.type = "bench.typed";
  typed.worker_types = {"bench.typed"};
  typed.headers = 3;
  ASSERT_OK(run(typed, 1, &r));
  EXPECT_EQ(r.accepted, 400u);
  EXPECT_EQ(r.end_to_end.count, 400u);
  typed.worker_types.clear();  // no worker declares it: the rings, taken by an any-type worker
  ASSERT_OK(run(typed, 8, &r));
  EXPECT_EQ(r.end_to_end.count, 400u);
  JobOptions keyed;  // one Enqueue per job, each key new: no duplicate answer (else Corruption)
  keyed.keyed = true;
  keyed.random_priority = true;
  ASSERT_OK(run(keyed, 1, &r));
  EXPECT_EQ(r.accepted, 400u);
  EXPECT_EQ(r.duplicates, 0u);
  JobOptions delayed;
  delayed.delay_ms = 150;
  ASSERT_OK(run(delayed, 16, &r));
  EXPECT_EQ(r.end_to_end.count, 400u);
  EXPECT_GE(r.end_to_end.p50, 150'000.0) << "a job ran before its delay";
  EXPECT_LT(r.enqueue.p50, 100'000.0) << "the producer does not wait out the delay";
}

TEST_F(LoadToolTest, JobOptionFlagsAreNamedInTheOutputAndPlainRunsAreUnchanged) {
  const test::CommandResult r = test::RunCommand(
      {test::BinDir() + "/taskring", "bench", "--jobs", "500", "--durability", "none", "--keyed",
       "--priorities", "--headers", "2", "--type", "t1", "--worker-types", "t1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"accepted\":500,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(
                "\"job_options\":\"--priorities --type t1 --worker-types t1 --headers 2 --keyed\""),
            std::string::npos)
      << r.out;
  const test::CommandResult plain = test::RunCommand(
      {test::BinDir() + "/taskring", "bench", "--jobs", "500", "--durability", "none", "--json"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("job_options"), std::string::npos) << plain.out;
  const test::CommandResult human =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--jobs", "200", "--durability",
                        "none", "--priority", "0", "--delay-ms", "1"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("job options: --priority 0 --delay-ms 1"), std::string::npos)
      << human.out;
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Bad& b :
       std::vector<Bad>{{{"--keyed", "--batch", "4"}, "--keyed needs --batch 1"},
                        {{"--priority", "3", "--priorities"}, "exclude each other"},
                        {{"--priority", "10"}, "priority"},
                        {{"--headers", "17"}, "headers"},
                        {{"--target", "boost-mq", "--type", "t"}, "taskring job options"},
                        {{"--vs", "boost-mq", "--keyed"}, "--vs do not go together"}}) {
    std::vector<std::string> cmd = {test::BinDir() + "/taskring", "bench", "--jobs", "10"};
    cmd.insert(cmd.end(), b.args.begin(), b.args.end());
    const test::CommandResult bad = test::RunCommand(cmd);
    EXPECT_EQ(bad.exit_code, 2) << b.says;
    EXPECT_NE(bad.err.find(b.says), std::string::npos) << bad.err;
  }
}

// --result-bytes (issue 13): the worker completes every job with a result of that size,
// Complete(job, result), at batch 1 and in batches. The daemon's --max-result bounds a result, so
// one byte over it fails the run: the results reach the daemon.
TEST_F(LoadToolTest, ResultBytesCompletesEveryJobWithAResult) {
  test::Daemon d(queue_, tmp_.path() + "/wal", {"--durability", "none", "--max-result", "100"});
  ASSERT_TRUE(d.Start());
  auto run = [&](uint32_t result_bytes, uint32_t batch, LoadResult* r) {
    Target t;
    t.queue = queue_;
    t.job.result_bytes = result_bytes;
    t.take_batch = batch;
    LoadOptions o = Options();
    o.jobs = 400;
    o.batch = batch;
    return RunLoad(t, o, r);
  };
  LoadResult r;
  ASSERT_OK(run(100, 1, &r));
  EXPECT_EQ(r.accepted, 400u);
  EXPECT_EQ(r.end_to_end.count, 400u);
  ASSERT_OK(run(100, 8, &r));
  EXPECT_EQ(r.end_to_end.count, 400u);
  const Status over = run(101, 1, &r);
  EXPECT_FALSE(over.ok());
  EXPECT_NE(over.ToString().find("exceeds the queue's max result of 100 bytes"), std::string::npos)
      << over.ToString();

  // The command names it; above the daemon's default bound (64 KiB) its own daemon is started
  // with a --max-result that fits; peers have no results.
  const test::CommandResult cli =
      test::RunCommand({test::BinDir() + "/taskring", "bench", "--jobs", "300", "--durability",
                        "none", "--batch", "4", "--result-bytes", "70000", "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("\"accepted\":300,"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("\"job_options\":\"--result-bytes 70000\""), std::string::npos) << cli.out;
  const test::CommandResult bad = test::RunCommand(
      {test::BinDir() + "/taskring", "bench", "--target", "boost-mq", "--result-bytes", "8"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("taskring job options"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace taskring::loadgen
