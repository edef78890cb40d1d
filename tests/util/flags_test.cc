#include "util/flags.h"

#include <gtest/gtest.h>

#include <vector>

namespace taskring::util {
namespace {

Status ParseArgs(FlagSet& flags, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return flags.Parse(static_cast<int>(argv.size()), argv.data(), 0);
}

struct Fixture {
  std::string name;
  uint64_t count = 5;
  bool verbose = false;
  std::string mode = "a";
  FlagSet flags{"prog [flags]", "does things"};
  Fixture() {
    flags.String("name", &name, "a name");
    flags.Uint("count", &count, 1, 100, "how many");
    flags.Bool("verbose", &verbose, "talk");
    flags.Choice("mode", &mode, {"a", "b"}, "which");
  }
};

TEST(FlagsTest, ParsesSpaceAndEqualsFormsAndKeepsDefaults) {
  Fixture f;
  ASSERT_TRUE(ParseArgs(f.flags, {"--name", "x", "--verbose", "--mode=b"}).ok());
  EXPECT_EQ(f.name, "x");
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.mode, "b");
  EXPECT_EQ(f.count, 5u);
  EXPECT_TRUE(f.flags.Seen("name"));
  EXPECT_FALSE(f.flags.Seen("count"));
}

TEST(FlagsTest, RejectsUnknownFlagsBadNumbersAndMissingValues) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--nope"},
                                             {"--count", "0"},
                                             {"--count", "101"},
                                             {"--count", "-1"},
                                             {"--count", "12abc"},
                                             {"--count", "99999999999999999999999"},
                                             {"--name"},
                                             {"--mode", "c"},
                                             {"--verbose=yes"},
                                             {"positional"}}) {
    Fixture f;
    const Status s = ParseArgs(f.flags, args);
    EXPECT_TRUE(s.IsInvalidArgument()) << args[0];
    EXPECT_EQ(s.ToString().find('\n'), std::string::npos) << "one line: " << s.ToString();
  }
}

TEST(FlagsTest, HelpIsRecognisedAndUsageListsEveryFlag) {
  Fixture f;
  ASSERT_TRUE(ParseArgs(f.flags, {"--help"}).ok());
  EXPECT_TRUE(f.flags.help());
  const std::string usage = f.flags.Usage();
  for (const char* flag : {"--name", "--count", "--verbose", "--mode a|b", "--help"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace taskring::util
