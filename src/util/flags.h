// A small command-line flag parser shared by taskringd and taskring: "--name value",
// "--name=value" and boolean "--name". Unknown flags, missing or malformed values are
// InvalidArgument with a one-line reason; --help / -h sets help().
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
  // Value must be one of `choices`.
  void Choice(const std::string& name, std::string* dst, std::vector<std::string> choices,
              const std::string& help);

  Status Parse(int argc, char** argv, int first);
  [[nodiscard]] bool help() const { return help_; }
  [[nodiscard]] bool Seen(const std::string& name) const;
  [[nodiscard]] std::string Usage() const;

 private:
  enum class Kind { kString, kUint, kBool, kChoice };
  struct Flag {
    std::string name;
    Kind kind;
    void* dst;
    uint64_t min = 0, max = 0;
    std::vector<std::string> choices;
    std::string help;
    bool seen = false;
  };
  Status Set(Flag& f, const std::string& value);

  std::string usage_;
  std::string description_;
  std::vector<Flag> flags_;
  bool help_ = false;
};

}  // namespace taskring::util

#endif  // TASKRING_UTIL_FLAGS_H_
