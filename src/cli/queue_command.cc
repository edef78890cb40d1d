// taskring queue list: every queue on this host, found by its segment /dev/shm/taskring.<name>,
// each attached read-only and validated (a bad segment is an error row, never a crash). Prints a
// table, a JSON array (--json), or Prometheus file_sd target groups (--file-sd) so a Prometheus
// on the host can discover every queue's exporter without a hand-kept list.
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "metrics/snapshot.h"
#include "segment/daemon_life.h"
#include "segment/segment.h"
#include "segment/segment_header.h"
#include "util/flags.h"

namespace taskring::cli {
namespace {

constexpr const char* kShmDir = "/dev/shm";

struct QueueRow {
  std::string name;
  std::string state;  // running, starting, stopping, refusing, stopped, abandoned, dead, error
  std::string error;  // why the segment could not be read (state "error"), or a detail
  bool attached = false;
  bool alive = false;   // the daemon holds the segment's life mutex
  bool paused = false;  // QueueControl::Pause: the daemon hands out nothing
  std::string wal_dir;
  metrics::QueueSnapshot snap;
};

// Queue names of the segments in /dev/shm, sorted. Names with '~' are a queue's daemon lock
// (taskring.<q>~lock) or a segment still being built (taskring.<q>~new), not queues.
Status ListSegmentNames(std::vector<std::string>* names) {
  DIR* dir = ::opendir(kShmDir);
  if (dir == nullptr) {
    return Status::IOError(std::string("cannot list ") + kShmDir + ": " + std::strerror(errno));
  }
  const std::string prefix = segment::ShmName("");
  while (const dirent* e = ::readdir(dir)) {
    const std::string file = e->d_name;
    if (file.size() <= prefix.size() || file.compare(0, prefix.size(), prefix) != 0) continue;
    if (file.find('~') != std::string::npos) continue;
    names->push_back(file.substr(prefix.size()));
  }
  ::closedir(dir);
  std::sort(names->begin(), names->end());
  return Status::OK();
}

const char* StateName(uint32_t state, bool alive) {
  using segment::DaemonState;
  switch (static_cast<DaemonState>(state)) {
    case DaemonState::kStopped: return "stopped";
    case DaemonState::kAbandoned: return "abandoned";
    default: break;
  }
  if (!alive) return "dead";
  switch (static_cast<DaemonState>(state)) {
    case DaemonState::kStarting: return "starting";
    case DaemonState::kRunning: return "running";
    case DaemonState::kStopping: return "stopping";
    case DaemonState::kRefusing: return "refusing";
    default: return "invalid state";
  }
}

QueueRow ReadQueue(const std::string& name) {
  QueueRow row;
  row.name = name;
  std::unique_ptr<segment::Segment> seg;
  const Status s = segment::Segment::Attach(name, /*read_only=*/true, &seg);
  if (s.IsNotReady()) {  // published by a live daemon that is still recovering its WAL
    row.state = "starting";
    row.alive = true;
    row.error = std::string(s.message());
    return row;
  }
  if (s.IsClosed()) {  // left by a daemon that died while starting
    row.state = "dead";
    row.error = std::string(s.message());
    return row;
  }
  if (!s.ok()) {
    row.state = "error";
    row.error = s.ToString();
    return row;
  }
  row.attached = true;
  metrics::TakeSnapshot(*seg, &row.snap);
  row.alive = segment::DaemonLifeHeld(seg->header());
  const char* wal = seg->header()->wal_dir;  // NUL-terminated: checked on attach
  row.wal_dir.assign(wal, strnlen(wal, segment::kMaxWalDir));
  row.state = StateName(seg->header()->daemon_state.load(std::memory_order_acquire), row.alive);
  row.paused = seg->header()->paused.load(std::memory_order_acquire) != 0;
  return row;
}

std::string MetricsAddress(const QueueRow& r) {
  // The port is read from shared memory: anything out of range is no address.
  if (!r.attached || r.snap.metrics_port == 0 || r.snap.metrics_port > 65535) return "";
  return "127.0.0.1:" + std::to_string(r.snap.metrics_port);
}

std::string Num(bool known, uint64_t v) { return known ? std::to_string(v) : "-"; }

void PrintTable(const std::vector<QueueRow>& rows) {
  std::vector<std::vector<std::string>> cells = {{"QUEUE", "STATE", "PID", "DEPTH/CAPACITY",
                                                  "OUTSTANDING", "WORKERS", "PRODUCERS", "METRICS",
                                                  "WAL"}};
  for (const QueueRow& r : rows) {
    const bool a = r.attached;
    const std::string metrics = MetricsAddress(r);
    cells.push_back(
        {r.name, r.paused ? r.state + ",paused" : r.state,
         a && r.snap.daemon_pid > 0 ? std::to_string(r.snap.daemon_pid) : "-",
         a ? std::to_string(r.snap.queued) + "/" + std::to_string(r.snap.capacity) : "-",
         Num(a, r.snap.outstanding), Num(a, r.snap.workers), Num(a, r.snap.producers),
         metrics.empty() ? "-" : metrics, a && !r.wal_dir.empty() ? r.wal_dir : "-"});
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i != 0 && !rows[i - 1].attached) {  // name and state only; the reason ends the line
      for (size_t c = 0; c < 2; ++c) width[c] = std::max(width[c], cells[i][c].size());
      continue;
    }
    for (size_t c = 0; c < cells[i].size(); ++c) width[c] = std::max(width[c], cells[i][c].size());
  }
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string line;
    const bool reason = i != 0 && !rows[i - 1].attached;
    for (size_t c = 0; c < cells[i].size(); ++c) {
      if (reason && c == 2) {
        line += rows[i - 1].error;
        break;
      }
      line += cells[i][c];
      if (c + 1 < cells[i].size()) line += std::string(width[c] - cells[i][c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

nlohmann::ordered_json Json(const std::vector<QueueRow>& rows) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const QueueRow& r : rows) {
    nlohmann::ordered_json q;
    q["queue"] = r.name;
    q["state"] = r.state;
    if (!r.error.empty()) q["error"] = r.error;
    if (r.attached) {
      const metrics::QueueSnapshot& s = r.snap;
      q["daemon_pid"] = s.daemon_pid;
      q["depth"] = s.queued;
      q["capacity"] = s.capacity;
      q["outstanding"] = s.outstanding;
      q["running"] = s.running;
      q["delayed"] = s.delayed;
      q["paused"] = r.paused;
      q["workers"] = s.workers;
      q["producers"] = s.producers;
      q["dead_letters"] = s.dead_letters;
      q["durability"] = s.durability;
      q["metrics_port"] = s.metrics_port;
      const std::string metrics = MetricsAddress(r);
      q["metrics"] =
          metrics.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(metrics);
      q["wal_dir"] = r.wal_dir;
    }
    out.push_back(std::move(q));
  }
  return out;
}

// Prometheus file_sd: one target group per queue whose daemon is alive and serves metrics
// (running, but also refusing or stopping: those are exactly the queues to keep watching).
nlohmann::ordered_json FileSd(const std::vector<QueueRow>& rows) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const QueueRow& r : rows) {
    const std::string metrics = MetricsAddress(r);
    if (!r.alive || metrics.empty()) continue;
    nlohmann::ordered_json group;
    group["targets"] = nlohmann::ordered_json::array({metrics});
    group["labels"] = {{"queue", r.name}};
    out.push_back(std::move(group));
  }
  return out;
}

int ListCommand(int argc, char** argv) {
  const std::string cmd = "queue list";
  bool json = false, file_sd = false;
  util::FlagSet flags(
      "taskring queue list [--json | --file-sd]",
      "Lists every queue on this host: each segment /dev/shm/taskring.<name>, read-only. Columns:\n"
      "daemon state (running, starting, stopping, refusing, stopped, dead: the daemon process is\n"
      "gone; error: the segment cannot be read, with the reason; \",paused\" is added while the "
      "queue\n"
      "is paused: taskring queue pause), daemon pid, depth/capacity,\n"
      "outstanding jobs, live workers and producers, metrics address (127.0.0.1:PORT, '-' when\n"
      "off) and WAL directory. Exits 0 even when some rows are errors.\n"
      "--file-sd prints Prometheus file_sd target groups, one per queue whose daemon is alive and\n"
      "serves metrics: [{\"targets\":[\"127.0.0.1:PORT\"],\"labels\":{\"queue\":\"NAME\"}}].");
  flags.Bool("json", &json, "one JSON array, one object per queue");
  flags.Bool("file-sd", &file_sd, "Prometheus file_sd JSON (for file_sd_configs)");
  Status s = flags.Parse(argc, argv, 3);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  if (json && file_sd) return Error(cmd, "--json and --file-sd exclude each other", 2);

  std::vector<std::string> names;
  s = ListSegmentNames(&names);
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  std::vector<QueueRow> rows;
  rows.reserve(names.size());
  for (const std::string& name : names) rows.push_back(ReadQueue(name));

  if (json) {
    std::printf("%s\n", Json(rows).dump(2).c_str());
  } else if (file_sd) {
    std::printf("%s\n", FileSd(rows).dump(2).c_str());
  } else {
    PrintTable(rows);
  }
  return 0;
}

constexpr const char* kQueueUsage =
    "usage: taskring queue list [--json | --file-sd]\n"
    "       taskring queue (pause | resume | purge) --queue NAME [--yes]\n"
    "\n"
    "  list    every queue on this host (see taskring queue list --help)\n"
    "  pause   stop handing out jobs (producers keep enqueueing)\n"
    "  resume  hand out jobs again\n"
    "  purge   cancel every queued and delayed job (asks first; --yes in scripts)\n";

}  // namespace

int QueueCommand(int argc, char** argv) {
  if (argc < 3) {
    std::fputs(kQueueUsage, stderr);
    return 2;
  }
  const std::string sub = argv[2];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kQueueUsage, stdout);
    return 0;
  }
  if (sub == "list" || sub == "ls") return ListCommand(argc, argv);
  if (sub == "pause" || sub == "resume" || sub == "purge") {
    return QueueControlCommand(sub, argc, argv);
  }
  return Error("queue", "unknown subcommand '" + sub + "' (see taskring queue --help)", 2);
}

}  // namespace taskring::cli
