// The C ABI against a real daemon: runs capi_c_test (a C99 program linked against
// libtaskring.so only; its checks are in capi_c_test.c) once per scenario, each with its own
// taskringd, and fails with the program's output if any of its checks failed.
#include <gtest/gtest.h>

#include <string>

#include "taskring/taskring.h"
#include "test_util.h"

namespace taskring {
namespace {

// The C structs as C++ sees them (the header compiles as C++ too: header_cxx.cc).
static_assert(sizeof(taskring_token) == 41);
static_assert(TASKRING_RESOURCE_EXHAUSTED == static_cast<int>(Status::Code::kResourceExhausted));

class CapiTest : public ::testing::Test {
 protected:
  static test::CommandResult RunC(const char* mode, const std::string& queue) {
    return test::RunCommand({TASKRING_CAPI_C_TEST, mode, queue}, "", 120);
  }
  test::TempDir tmp_;
};

TEST_F(CapiTest, CProgramUsesEveryCallAgainstADaemon) {
  const std::string queue = test::UniqueQueueName("capi");
  test::Daemon d(queue, tmp_.path() + "/wal", {"--max-payload", "4096", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  const test::CommandResult r = RunC("basic", queue);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\ndaemon log:\n" << d.Log();
  EXPECT_NE(r.out.find("capi_c_test basic: 0 failed checks"), std::string::npos) << r.out;
}

TEST_F(CapiTest, CProgramSeesBusyWithRetryAfterOnAFullQueue) {
  const std::string queue = test::UniqueQueueName("capibusy");
  test::Daemon d(queue, tmp_.path() + "/wal", {"--capacity", "4", "--durability", "none"});
  ASSERT_TRUE(d.Start());
  const test::CommandResult r = RunC("busy", queue);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("capi_c_test busy: 0 failed checks"), std::string::npos) << r.out;
}

TEST_F(CapiTest, CProgramSeesNotFoundWithoutADaemonAndRefusesBadArguments) {
  const test::CommandResult r = RunC("missing", test::UniqueQueueName("capinone"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("capi_c_test missing: 0 failed checks"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace taskring
