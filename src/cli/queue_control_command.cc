// taskring queue pause | resume | purge: QueueControl from the command line, for deploys and
// incidents. Purge cannot be undone, so it wants --yes, or a "y" typed at a terminal.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "taskring/queue_control.h"
#include "util/flags.h"

namespace taskring::cli {
namespace {

constexpr const char* kDescription =
    "pause   stop handing out jobs: producers keep enqueueing, running jobs finish, nothing new\n"
    "        starts until resume. Survives a daemon restart. Prints 'paused'.\n"
    "resume  hand out jobs again. Prints 'resumed'.\n"
    "purge   cancel every queued and delayed job (not running ones); each ends in state\n"
    "        'cancelled' and never runs, even after a restart. Asks for confirmation on a\n"
    "        terminal; without one (a script, a pipe) it needs --yes. Prints 'purged <n> job(s)\n"
    "        cancelled'.\n"
    "\n"
    "Each returns once the daemon has applied and logged the change. Exit status: 0 done, 1 no\n"
    "daemon or an error, 2 wrong flags or a purge not confirmed.";

// True when the user typed yes at the terminal.
bool ConfirmPurge(const std::string& queue) {
  std::fprintf(stderr, "cancel every queued and delayed job of queue '%s'? [y/N] ", queue.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

int QueueControlCommand(const std::string& sub, int argc, char** argv) {
  const std::string cmd = "queue " + sub;
  ProducerOptions po;
  bool yes = false;
  util::FlagSet flags("taskring queue (pause | resume | purge) --queue NAME [--yes]", kDescription);
  flags.String("queue", &po.queue, "queue name");
  flags.Bool("yes", &yes, "purge without asking");
  Status s = flags.Parse(argc, argv, 3);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  if (po.queue.empty()) return Error(cmd, "--queue is required (see --help)", 2);
  // Refused before touching the daemon: a script without --yes learns it at once.
  if (sub == "purge" && !yes && ::isatty(STDIN_FILENO) == 0) {
    return Error(cmd, "not purging without --yes (stdin is not a terminal to confirm on)", 2);
  }

  std::unique_ptr<QueueControl> control;
  s = QueueControl::Open(po, &control);
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  if (sub == "pause") {
    s = control->Pause();
    if (s.ok()) std::printf("paused\n");
  } else if (sub == "resume") {
    s = control->Resume();
    if (s.ok()) std::printf("resumed\n");
  } else {
    if (!yes && !ConfirmPurge(po.queue)) return Error(cmd, "not confirmed: nothing purged", 2);
    uint64_t cancelled = 0;
    s = control->Purge(&cancelled);
    if (s.ok())
      std::printf("purged %llu job(s) cancelled\n", static_cast<unsigned long long>(cancelled));
  }
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  return 0;
}

}  // namespace taskring::cli
