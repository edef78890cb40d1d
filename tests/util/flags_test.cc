#include "util/flags.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "test_util.h"

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
                                             {"--version"},           // not enabled
                                             {"--config", "x.conf"},  // not enabled
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

TEST(FlagsTest, AFlagGivenTwiceIsAnError) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--count", "3", "--count", "4"},
                                             {"--count=3", "--name", "x", "--count=3"},
                                             {"--verbose", "--verbose"},
                                             {"--mode", "a", "--mode=b"}}) {
    Fixture f;
    const Status s = ParseArgs(f.flags, args);
    EXPECT_TRUE(s.IsInvalidArgument()) << args[0];
    const std::string want = args[0].substr(0, args[0].find('=')) + " given twice";
    EXPECT_NE(s.ToString().find(want), std::string::npos) << s.ToString();
  }
}

TEST(FlagsTest, BooleansAcceptExplicitTrueAndFalse) {
  Fixture f;
  f.verbose = true;
  ASSERT_TRUE(ParseArgs(f.flags, {"--verbose=false"}).ok());
  EXPECT_FALSE(f.verbose);
  Fixture g;
  ASSERT_TRUE(ParseArgs(g.flags, {"--verbose=true"}).ok());
  EXPECT_TRUE(g.verbose);
}

TEST(FlagsTest, VersionIsRecognisedOnlyWhenEnabled) {
  Fixture f;
  f.flags.Version("prog", "1.2.3");
  ASSERT_TRUE(ParseArgs(f.flags, {"--version"}).ok());
  EXPECT_TRUE(f.flags.version());
  EXPECT_FALSE(f.flags.help());
  EXPECT_EQ(f.flags.VersionLine(), "prog 1.2.3\n");
  EXPECT_NE(f.flags.Usage().find("--version"), std::string::npos);

  Fixture g;
  g.flags.Version("prog", "1.2.3");
  ASSERT_TRUE(ParseArgs(g.flags, {"--count", "7"}).ok());
  EXPECT_FALSE(g.flags.version());
  Fixture h;
  EXPECT_EQ(h.flags.Usage().find("--version"), std::string::npos);
}

TEST(FlagsTest, AStringListCollectsEveryOccurrenceInOrder) {
  std::vector<std::string> tags;
  std::string name;
  FlagSet flags("prog [flags]", "does things");
  flags.StringList("tag", &tags, "a tag (repeatable)");
  flags.String("name", &name, "a name");
  ASSERT_TRUE(ParseArgs(flags, {"--tag", "a=1", "--name", "x", "--tag=b=2", "--tag", ""}).ok());
  EXPECT_EQ(tags, (std::vector<std::string>{"a=1", "b=2", ""}));
  EXPECT_TRUE(flags.Seen("tag"));
  EXPECT_NE(flags.Usage().find("--tag VALUE..."), std::string::npos) << flags.Usage();
  EXPECT_TRUE(ParseArgs(flags, {"--name", "y"}).IsInvalidArgument()) << "others stay single";

  std::vector<std::string> none;
  FlagSet empty("prog", "");
  empty.StringList("tag", &none, "a tag");
  ASSERT_TRUE(ParseArgs(empty, {}).ok());
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(empty.Seen("tag"));
  EXPECT_TRUE(ParseArgs(empty, {"--tag"}).IsInvalidArgument()) << "a list item needs a value";
}

class FlagsFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = tmp_.path() + "/f" + std::to_string(n_++) + ".conf";
    std::ofstream(path) << text;
    return path;
  }
  test::TempDir tmp_;
  int n_ = 0;
};

TEST_F(FlagsFileTest, ParsesNameValueLinesCommentsAndBlanks) {
  Fixture f;
  const std::string path = Write(
      "# a comment\n"
      "\n"
      "   # an indented comment\n"
      "name = hello world # not a comment\n"
      "count=42\r\n"
      "  verbose   =   true  \n"
      "mode = b");  // no final newline
  ASSERT_TRUE(f.flags.ParseFile(path).ok());
  EXPECT_EQ(f.name, "hello world # not a comment");
  EXPECT_EQ(f.count, 42u);
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.mode, "b");
  EXPECT_TRUE(f.flags.Seen("count"));

  Fixture g;
  g.verbose = true;
  ASSERT_TRUE(g.flags.ParseFile(Write("verbose = false\nname =\n")).ok());
  EXPECT_FALSE(g.verbose);
  EXPECT_EQ(g.name, "");
}

TEST_F(FlagsFileTest, ErrorsNameTheFileAndLine) {
  struct Case {
    std::string text;
    int line;
    std::string what;
  };
  for (const Case& c : std::vector<Case>{
           {"count = 3\nnope = 1\n", 2, "unknown key 'nope'"},
           {"# c\n\njust words\n", 3, "expected 'name = value'"},
           {"= 3\n", 1, "missing name"},
           {"count = 3\nname = a\ncount = 4\n", 3, "count given twice (first on line 1)"},
           {"count = 0\n", 1, "whole number"},
           {"count = 12abc\n", 1, "whole number"},
           {"verbose\n", 1, "expected 'name = value'"},
           {"verbose = yes\n", 1, "true or false"},
           {"mode = c\n", 1, "one of a|b"},
           {"--count = 3\n", 1, "without the leading dashes"},
       }) {
    Fixture f;
    const std::string path = Write(c.text);
    const Status s = f.flags.ParseFile(path);
    EXPECT_TRUE(s.IsInvalidArgument()) << c.text;
    EXPECT_NE(s.ToString().find(path + ":" + std::to_string(c.line) + ": "), std::string::npos)
        << s.ToString();
    EXPECT_NE(s.ToString().find(c.what), std::string::npos) << s.ToString();
    EXPECT_EQ(s.ToString().find('\n'), std::string::npos) << "one line: " << s.ToString();
  }
  Fixture f;
  const Status s = f.flags.ParseFile(tmp_.path() + "/missing.conf");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("missing.conf"), std::string::npos) << s.ToString();
  EXPECT_FALSE(f.flags.ParseFile(tmp_.path()).ok()) << "a directory is not a config file";
}

TEST_F(FlagsFileTest, CommandLineOverridesTheFileWhicheverIsParsedFirst) {
  const std::string path = Write("count = 10\nname = from-file\nmode = b\n");
  Fixture before;  // file, then command line
  ASSERT_TRUE(before.flags.ParseFile(path).ok());
  ASSERT_TRUE(ParseArgs(before.flags, {"--count", "20"}).ok()) << "a file value is not 'twice'";
  EXPECT_EQ(before.count, 20u);
  EXPECT_EQ(before.name, "from-file");

  Fixture after;  // command line, then file
  ASSERT_TRUE(ParseArgs(after.flags, {"--count", "20"}).ok());
  ASSERT_TRUE(after.flags.ParseFile(path).ok());
  EXPECT_EQ(after.count, 20u);
  EXPECT_EQ(after.name, "from-file");
  EXPECT_EQ(after.mode, "b");

  Fixture bad;  // an overridden value in the file is still checked
  ASSERT_TRUE(ParseArgs(bad.flags, {"--count", "20"}).ok());
  EXPECT_FALSE(bad.flags.ParseFile(Write("count = 1000\n")).ok());
}

TEST_F(FlagsFileTest, AStringListTakesOneLinePerValueAndTheCommandLineReplacesIt) {
  const std::string path = Write("tag = a\ntag = b\n");
  std::vector<std::string> from_file;
  FlagSet file_only("prog", "");
  file_only.StringList("tag", &from_file, "a tag");
  ASSERT_TRUE(file_only.ParseFile(path).ok());
  EXPECT_EQ(from_file, (std::vector<std::string>{"a", "b"}));

  std::vector<std::string> before;  // file, then command line
  FlagSet b("prog", "");
  b.StringList("tag", &before, "a tag");
  ASSERT_TRUE(b.ParseFile(path).ok());
  ASSERT_TRUE(ParseArgs(b, {"--tag", "c"}).ok());
  EXPECT_EQ(before, (std::vector<std::string>{"c"}));

  std::vector<std::string> after;  // command line, then file
  FlagSet a("prog", "");
  a.StringList("tag", &after, "a tag");
  ASSERT_TRUE(ParseArgs(a, {"--tag", "c", "--tag", "d"}).ok());
  ASSERT_TRUE(a.ParseFile(path).ok());
  EXPECT_EQ(after, (std::vector<std::string>{"c", "d"}));
}

TEST_F(FlagsFileTest, BuiltInConfigFlagReadsTheFileAfterTheCommandLine) {
  const std::string path = Write("count = 10\nname = from-file\nverbose = true\n");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--config", path, "--count", "20"}, {"--count", "20", "--config=" + path}}) {
    Fixture f;
    f.flags.ConfigFlag();
    ASSERT_TRUE(ParseArgs(f.flags, args).ok()) << args[0];
    EXPECT_EQ(f.count, 20u);
    EXPECT_EQ(f.name, "from-file");
    EXPECT_TRUE(f.verbose);
    EXPECT_EQ(f.flags.config_path(), path);
  }
  {
    Fixture f;  // the command line can turn a boolean of the file off again
    f.flags.ConfigFlag();
    ASSERT_TRUE(ParseArgs(f.flags, {"--config", path, "--verbose=false"}).ok());
    EXPECT_FALSE(f.verbose);
  }
  {
    Fixture f;
    f.flags.ConfigFlag();
    EXPECT_NE(f.flags.Usage().find("--config FILE"), std::string::npos);
    const Status s = ParseArgs(f.flags, {"--config", path, "--config", path});
    EXPECT_NE(s.ToString().find("--config given twice"), std::string::npos) << s.ToString();
  }
  {
    Fixture f;  // errors in the file name it
    f.flags.ConfigFlag();
    const std::string bad = Write("count = 1\nbogus = 2\n");
    const Status s = ParseArgs(f.flags, {"--config", bad});
    EXPECT_NE(s.ToString().find(bad + ":2: unknown key 'bogus'"), std::string::npos)
        << s.ToString();
  }
  {
    Fixture f;  // --help and --version work even when the file is broken
    f.flags.ConfigFlag();
    f.flags.Version("prog", "1");
    EXPECT_TRUE(ParseArgs(f.flags, {"--config", tmp_.path() + "/missing", "--help"}).ok());
    EXPECT_TRUE(f.flags.help());
    Fixture g;
    g.flags.ConfigFlag();
    g.flags.Version("prog", "1");
    EXPECT_TRUE(ParseArgs(g.flags, {"--version", "--config", tmp_.path() + "/missing"}).ok());
    EXPECT_TRUE(g.flags.version());
  }
  {
    Fixture f;  // a config file cannot include another one
    f.flags.ConfigFlag();
    const std::string nested = Write("config = other.conf\n");
    EXPECT_FALSE(ParseArgs(f.flags, {"--config", nested}).ok());
  }
}

}  // namespace
}  // namespace taskring::util
