// taskring stats: reads a queue's numbers straight from its segment (read-only).
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "segment/segment.h"
#include "util/flags.h"
#include "util/process.h"

namespace taskring::cli {
namespace {

const char* StateName(uint32_t s) {
  switch (static_cast<segment::DaemonState>(s)) {
    case segment::DaemonState::kStarting: return "starting";
    case segment::DaemonState::kRunning: return "running";
    case segment::DaemonState::kStopping: return "stopping";
    case segment::DaemonState::kStopped: return "stopped";
    case segment::DaemonState::kRefusing: return "refusing (storage error)";
    case segment::DaemonState::kAbandoned: return "abandoned";
  }
  return "invalid";
}

const char* DurabilityName(uint32_t d) {
  switch (static_cast<segment::Durability>(d)) {
    case segment::Durability::kFsync: return "fsync";
    case segment::Durability::kInterval: return "interval";
    case segment::Durability::kNone: return "none";
  }
  return "invalid";
}

}  // namespace

int StatsCommand(int argc, char** argv) {
  std::string queue;
  bool json = false;
  util::FlagSet flags("taskring stats --queue NAME [--json]",
                      "Prints a queue's capacity, depth, outstanding jobs, counters and live\n"
                      "workers, read from its shared-memory segment.");
  flags.String("queue", &queue, "queue name");
  flags.Bool("json", &json, "one JSON object instead of a table");
  Status s = flags.Parse(argc, argv, 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error("stats", std::string(s.message()) + " (see --help)", 2);
  if (queue.empty()) return Error("stats", "--queue is required (see --help)", 2);

  std::unique_ptr<segment::Segment> seg;
  s = segment::Segment::Attach(queue, /*read_only=*/true, &seg);
  if (!s.ok()) return Error("stats", s.ToString(), 1);
  const segment::SegmentHeader* h = seg->header();
  const uint32_t state_code = h->daemon_state.load();
  const pid_t pid = h->daemon_pid.load();
  const bool alive = segment::DaemonLifeHeld(h);
  const char* state = alive || state_code == static_cast<uint32_t>(segment::DaemonState::kStopped)
                          ? StateName(state_code)
                          : "dead (daemon process is gone)";
  uint64_t workers = 0, producers = 0;
  for (uint32_t i = 0; i < seg->params().max_clients; ++i) {
    const segment::ClientEntry* e = seg->client(i);
    const uint64_t owner = e->owner.load();
    if (segment::OwnerState(owner) != segment::ClientState::kActive) continue;
    if (!util::ProcessAlive(segment::OwnerPid(owner), e->start_ticks.load())) continue;
    const auto role = static_cast<segment::ClientRole>(e->role.load());
    workers += role == segment::ClientRole::kWorker;
    producers += role == segment::ClientRole::kProducer;
  }
  const uint64_t depth = seg->dispatch_ring().SizeApprox();
  const uint64_t free_slots = seg->free_ring().SizeApprox();
  const uint64_t capacity = seg->params().capacity;
  const uint64_t in_use = capacity > free_slots ? capacity - free_slots : 0;

  struct Row {
    const char* name;
    uint64_t value;
  };
  const Row rows[] = {
      {"capacity", capacity},
      {"depth", depth},
      {"outstanding", h->outstanding.load()},
      {"dead_letters", h->dead_letters.load()},
      {"slots_in_use", in_use},
      {"max_payload", seg->params().max_payload},
      {"workers", workers},
      {"producers", producers},
      {"daemon_pid", static_cast<uint64_t>(pid)},
      {"next_job_id", h->next_job_id.load()},
  };
  if (json) {
    std::string out = "{\"queue\":\"" + queue + "\",\"daemon\":\"" + state +
                      "\",\"durability\":\"" + DurabilityName(h->durability) + "\"";
    for (const Row& r : rows) out += ",\"" + std::string(r.name) + "\":" + std::to_string(r.value);
    out += ",\"counters\":{";
    for (uint32_t c = 0; c < segment::kCounterCount; ++c) {
      const auto counter = static_cast<segment::Counter>(c);
      out += std::string(c ? "," : "") + "\"" + segment::CounterName(counter) +
             "\":" + std::to_string(seg->Read(counter));
    }
    out += "}}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  std::printf("queue        %s\ndaemon       %s\ndurability   %s\n", queue.c_str(), state,
              DurabilityName(h->durability));
  for (const Row& r : rows)
    std::printf("%-12s %llu\n", r.name, static_cast<unsigned long long>(r.value));
  for (uint32_t c = 0; c < segment::kCounterCount; ++c) {
    const auto counter = static_cast<segment::Counter>(c);
    std::printf("%-12s %llu\n", segment::CounterName(counter),
                static_cast<unsigned long long>(seg->Read(counter)));
  }
  return 0;
}

}  // namespace taskring::cli
