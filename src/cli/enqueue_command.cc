// taskring enqueue: stdin lines -> jobs, submitted in batches so a large file goes in fast.
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "taskring/producer.h"
#include "util/flags.h"

namespace taskring::cli {

int EnqueueCommand(int argc, char** argv) {
  std::string queue;
  uint64_t batch = 256;
  uint64_t max_attempts = 0;
  util::FlagSet flags(
      "taskring enqueue --queue NAME [--batch N] [--max-attempts N] < lines",
      "Reads payloads from stdin, one per line, and prints one line per input line, in order:\n"
      "'accepted <id>', 'busy' (queue full) or 'error <reason>'. Exit 0 if all were accepted,\n"
      "75 if any was busy (and none failed), 1 otherwise.");
  flags.String("queue", &queue, "queue name");
  flags.Uint("batch", &batch, 1, 65536, "lines per batch, one WAL commit wait each (256)");
  flags.Uint("max-attempts", &max_attempts, 0, 255, "attempts per job (0 = queue default)");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error("enqueue", std::string(s.message()) + " (see --help)", 2);
  if (queue.empty()) return Error("enqueue", "--queue is required (see --help)", 2);

  ProducerOptions popts;
  popts.queue = queue;
  std::unique_ptr<Producer> producer;
  s = Producer::Open(popts, &producer);
  if (!s.ok()) return Error("enqueue", s.ToString(), 1);

  EnqueueOptions eopts;
  eopts.max_attempts = static_cast<uint32_t>(max_attempts);
  std::ios::sync_with_stdio(false);
  // A large read buffer lets a piped file fill whole batches (see the in_avail test below).
  static char in_buffer[1 << 20];
  std::cin.rdbuf()->pubsetbuf(in_buffer, sizeof(in_buffer));
  std::vector<std::string> lines;
  std::vector<std::string_view> views;
  std::vector<EnqueueResult> results(batch);
  bool any_busy = false, any_error = false, fatal = false;
  std::string out;
  auto flush_batch = [&] {
    views.assign(lines.begin(), lines.end());
    Status bs = fatal
                    ? Status::Closed("queue unavailable")
                    : producer->EnqueueBatch(views, std::span(results.data(), views.size()), eopts);
    if (!bs.ok()) fatal = true;
    out.clear();
    for (size_t i = 0; i < views.size(); ++i) {
      const Status& r = bs.ok() ? results[i].status : bs;
      if (r.ok()) {
        out += "accepted " + std::to_string(results[i].job_id) + "\n";
      } else if (r.IsBusy()) {
        any_busy = true;
        out += "busy\n";
      } else {
        any_error = true;
        out += "error " + r.ToString() + "\n";
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    lines.clear();
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    lines.push_back(std::move(line));
    // A partial batch goes out as soon as stdin has nothing more buffered, so an interactive
    // producer gets its answer per line.
    if (lines.size() >= batch || std::cin.rdbuf()->in_avail() <= 0) flush_batch();
  }
  if (!lines.empty()) flush_batch();
  if (any_error) return 1;
  return any_busy ? 75 : 0;
}

}  // namespace taskring::cli
