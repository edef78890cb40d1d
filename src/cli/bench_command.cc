// taskring bench: a launcher for the load tool, which is a binary of its own (taskring-bench,
// built from bench/loadgen with the benchmarks) so the operator CLI links none of the peers'
// client libraries. Runs taskring-bench from this binary's directory (the build directory, or
// the install's bin/), else from PATH, with the arguments after "bench".
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace taskring::cli {

int BenchCommand(int argc, char** argv) {
  constexpr const char* kTool = "taskring-bench";
  std::vector<char*> args = {const_cast<char*>(kTool)};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string beside = ec ? std::string() : (self.parent_path() / kTool).string();
  if (!beside.empty() && ::access(beside.c_str(), X_OK) == 0) {
    ::execv(beside.c_str(), args.data());
    return Error("bench", "cannot run " + beside + ": " + std::strerror(errno), 127);
  }
  ::execvp(kTool, args.data());
  return Error("bench",
               std::string("the load tool ") + kTool + " was not found beside " +
                   (beside.empty() ? std::string("this binary") : self.parent_path().string()) +
                   " or on PATH (" + std::strerror(errno) +
                   "); it is built with the benchmarks (-DTASKRING_BUILD_BENCHMARKS=ON) and "
                   "installed beside taskring",
               127);
}

}  // namespace taskring::cli
