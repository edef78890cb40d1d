// A small command-line flag parser shared by taskringd and taskring: "--name value",
// "--name=value" and boolean "--name" (or "--name=true|false"). Unknown flags, a flag given twice
// (unless declared repeatable with StringList), missing or malformed values are InvalidArgument
// with a one-line reason; --help / -h sets help().
//
// Optional extras, each enabled by one call before Parse():
//
//  * Version("taskringd", "0.1.0"): --version sets version(); the caller then prints
//    VersionLine() ("taskringd 0.1.0") and exits 0, as it does for help().
//  * ConfigFlag(): a built-in --config FILE. Parse() reads FILE after the command line, so flags
//    given on the command line override the file, wherever --config appears among them.
//    ParseFile(path) reads a file directly (also after or before Parse(): either way the
//    command line wins).
//
// Config file format: one "name = value" per line, names as the flags without the leading
// dashes; '#' starts a comment line (only at the start of a line, after optional blanks: a '#'
// inside a value is part of it); blank lines are ignored; blanks around name and value are
// trimmed; booleans are "true" or "false". An unknown name, a line without '=', and a name given
// twice in the file are InvalidArgument naming "FILE:LINE".
#ifndef TASKRING_UTIL_FLAGS_H_
#define TASKRING_UTIL_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "taskring/status.h"

namespace taskring::util {

class FlagSet {
 public:
  FlagSet(std::string usage, std::string description)
      : usage_(std::move(usage)), description_(std::move(description)) {}

  void String(const std::string& name, std::string* dst, const std::string& help);
  // Unsigned integer in [min, max].
  void Uint(const std::string& name, uint64_t* dst, uint64_t min, uint64_t max,
            const std::string& help);
  void Bool(const std::string& name, bool* dst, const std::string& help);
  // Repeatable: each occurrence appends its value, in order. In a config file, one line per
  // value; values on the command line replace the file's (as for any other flag).
  void StringList(const std::string& name, std::vector<std::string>* dst, const std::string& help);
  // Value must be one of `choices`.
  void Choice(const std::string& name, std::string* dst, std::vector<std::string> choices,
              const std::string& help);

  // Enables --version: version() is then set by it, and VersionLine() is "<program> <version>".
  void Version(std::string program, std::string version);
  // Enables the built-in "--config FILE" (see the top of this file).
  void ConfigFlag(const std::string& help =
                      "read flags from FILE (name = value lines); flags "
                      "on the command line override it");

  // Parses argv[first..argc). With ConfigFlag() and --config FILE given, then reads FILE (not
  // when --help or --version was given, so they work even with a broken file).
  Status Parse(int argc, char** argv, int first);
  // Reads a config file; flags already given on the command line keep their command-line value
  // (their file value is still checked).
  Status ParseFile(const std::string& path);

  [[nodiscard]] bool help() const { return help_; }
  [[nodiscard]] bool version() const { return version_; }
  [[nodiscard]] std::string VersionLine() const { return program_ + " " + version_text_ + "\n"; }
  // The FILE of --config ("" when not given).
  [[nodiscard]] const std::string& config_path() const { return config_path_; }
  // Given on the command line or in a config file.
  [[nodiscard]] bool Seen(const std::string& name) const;
  [[nodiscard]] std::string Usage() const;

 private:
  enum class Kind { kString, kUint, kBool, kChoice, kStringList };
  enum class Source { kDefault, kFile, kCommandLine };
  struct Flag {
    std::string name;
    Kind kind;
    void* dst;
    uint64_t min = 0, max = 0;
    std::vector<std::string> choices;
    std::string help;
    Source source = Source::kDefault;
  };
  Flag* Find(const std::string& name);
  // Checks `value` for `f` and, when `store`, writes it to the destination.
  static Status Set(const Flag& f, const std::string& value, bool store);

  std::string usage_;
  std::string description_;
  std::vector<Flag> flags_;
  bool help_ = false;
  bool version_ = false;
  std::string program_, version_text_;  // version_text_ empty: no --version
  bool config_enabled_ = false;
  std::string config_help_;
  std::string config_path_;
};

}  // namespace taskring::util

#endif  // TASKRING_UTIL_FLAGS_H_
