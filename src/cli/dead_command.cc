// taskring dead list|show|requeue|purge: the dead letters of a queue (WAL_DIR/dead).
//
// list and show only read files, so they work on a stopped queue. requeue enqueues a dead
// job's payload as a new job through the daemon and removes the letter only once the new job
// is accepted: a crash in between leaves the letter, never loses the job. The store and those
// rules are the library's DeadLetters (include/taskring/dead_letters.h); this is its printing.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/text.h"
#include "taskring/dead_letters.h"
#include "util/flags.h"

namespace taskring::cli {
namespace {

constexpr int kExitBusy = 75;

struct Args {
  std::string sub;
  std::string queue;
  std::string dir;
  uint64_t id = 0;
  bool all = false;
  uint64_t wait_s = 0;  // --wait: requeue waits this long for a daemon
  bool json = false;
  bool raw = false;
  uint64_t payload_bytes = 40;
};

std::string JsonString(std::string_view v) {
  std::string out = "\"";
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

int List(const Args& a, DeadLetters& store) {
  std::vector<uint64_t> ids;
  Status s = store.List(&ids);
  if (!s.ok()) return Error("dead list", s.ToString(), 1);
  if (!a.json) {
    std::printf("%-10s %-8s %-7s %-24s %-8s %s\n", "JOB", "ATTEMPTS", "REASON", "DEAD AT (UTC)",
                "BYTES", "PAYLOAD");
  }
  int rc = 0;
  for (uint64_t id : ids) {
    DeadLetter d;
    s = store.Read(id, &d);
    if (s.IsNotFound()) continue;  // requeued or purged meanwhile
    if (!s.ok()) {
      Error("dead list", s.ToString(), 1);
      rc = 1;
      continue;
    }
    if (a.json) {
      std::printf(
          "{\"job\":%llu,\"attempts\":%u,\"max_attempts\":%u,\"reason\":\"%s\",\"enqueued_unix_"
          "ns\":"
          "%llu,\"dead_unix_ns\":%llu,\"bytes\":%zu,\"payload\":%s}\n",
          static_cast<unsigned long long>(d.job_id), d.attempts, d.max_attempts, d.reason.c_str(),
          static_cast<unsigned long long>(d.enqueued_unix_ns),
          static_cast<unsigned long long>(d.dead_unix_ns), d.payload.size(),
          JsonString(d.payload).c_str());
    } else {
      std::printf("%-10llu %-8u %-7s %-24s %-8zu %s\n", static_cast<unsigned long long>(d.job_id),
                  d.attempts, d.reason.c_str(), FormatUnixNs(d.dead_unix_ns).c_str(),
                  d.payload.size(), Printable(d.payload, a.payload_bytes).c_str());
    }
  }
  return rc;
}

int Show(const Args& a, DeadLetters& store) {
  DeadLetter d;
  Status s = store.Read(a.id, &d);
  if (!s.ok()) return Error("dead show", s.ToString(), 1);
  if (a.raw) {
    std::fwrite(d.payload.data(), 1, d.payload.size(), stdout);
    return 0;
  }
  std::printf(
      "job          %llu\nreason       %s\nattempts     %u of %u\nenqueued     %s\ndead         "
      "%s\nbytes        %zu\npayload      %s\n",
      static_cast<unsigned long long>(d.job_id), d.reason.c_str(), d.attempts, d.max_attempts,
      FormatUnixNs(d.enqueued_unix_ns).c_str(), FormatUnixNs(d.dead_unix_ns).c_str(),
      d.payload.size(), Printable(d.payload, d.payload.size()).c_str());
  std::printf("priority     %u\ntimeout_ms   %u\n", static_cast<unsigned>(d.priority),
              d.timeout_ms);
  if (!d.type.empty()) std::printf("type         %s\n", d.type.c_str());
  if (!d.idempotency_key.empty()) std::printf("key          %s\n", d.idempotency_key.c_str());
  for (const auto& [name, value] : d.headers) {
    std::printf("header       %s=%s\n", name.c_str(), Printable(value, value.size()).c_str());
  }
  return 0;
}

// requeue and purge change the store: one such command at a time (the store's lock, held for
// the whole command), so two requeues of the same letter cannot both enqueue it.
int Change(const Args& a, DeadLetters& store) {
  const std::string cmd = "dead " + a.sub;
  std::string holder;
  Status s = store.Lock(&holder);
  if (s.IsBusy())
    return Error(cmd, "another taskring dead command (pid " + holder + ") is running", 1);
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  std::vector<uint64_t> ids{a.id};
  if (a.all) {
    s = store.List(&ids);
    if (!s.ok()) return Error(cmd, s.ToString(), 1);
  }
  if (a.sub == "purge") {
    uint64_t purged = 0;
    for (uint64_t id : ids) {
      s = store.Purge(id);
      if (!s.ok() && !(a.all && s.IsNotFound())) return Error(cmd, s.ToString(), 1);
      purged += s.ok();
    }
    std::printf("purged %llu\n", static_cast<unsigned long long>(purged));
    return 0;
  }
  s = store.Connect();
  if (!s.ok()) return Error(cmd, "cannot requeue: " + s.ToString(), 1);
  for (uint64_t id : ids) {
    // Read first: a letter that cannot be read is reported as the store's error, not the job's.
    DeadLetter d;
    s = store.Read(id, &d);
    if (s.IsNotFound() && a.all) continue;
    if (!s.ok()) return Error(cmd, s.ToString(), 1);
    uint64_t new_id = 0;
    s = store.Requeue(id, &new_id);
    if (s.IsBusy()) {
      std::printf("busy: queue full at job %llu; retry in about %u ms\n",
                  static_cast<unsigned long long>(id), store.RetryAfterMs());
      return kExitBusy;
    }
    if (!s.ok() && new_id != 0) return Error(cmd, s.ToString(), 1);  // accepted, not removed
    if (!s.ok()) return Error(cmd, "job " + std::to_string(id) + ": " + s.ToString(), 1);
    std::printf("requeued %llu as %llu\n", static_cast<unsigned long long>(id),
                static_cast<unsigned long long>(new_id));
  }
  return 0;
}

}  // namespace

int DeadCommand(int argc, char** argv) {
  Args a;
  a.sub = argc >= 3 ? argv[2] : "";
  util::FlagSet flags(
      "taskring dead (list | show | requeue | purge) --queue NAME [--dir DIR] [--id ID | --all]",
      "Dead letters: jobs that used up their attempts, kept with their payload in DIR/dead.\n"
      "list: one line per dead job (--json: one object per line).\n"
      "show --id ID: every field and the whole payload (--raw: the payload bytes only).\n"
      "requeue (--id ID | --all): enqueue each as a new job (fresh attempts; needs the daemon);\n"
      "  the letter is removed once the new job is accepted. Prints 'requeued OLD as NEW'.\n"
      "  Exit 75 if the queue is full (the rest stay dead letters).\n"
      "purge (--id ID | --all): delete them.\n"
      "The WAL directory is read from the running daemon; --dir works on a stopped queue.");
  flags.String("queue", &a.queue, "queue name");
  flags.String("dir", &a.dir, "the queue's WAL directory (default: the running daemon's)");
  flags.Uint("id", &a.id, 1, UINT64_MAX, "job id (show, requeue, purge)");
  flags.Bool("all", &a.all, "requeue or purge every dead letter");
  flags.Uint("wait", &a.wait_s, 0, 86400,
             "requeue: wait up to this long for a daemon that is not running yet (0)");
  flags.Bool("json", &a.json, "list: JSON lines");
  flags.Bool("raw", &a.raw, "show: write only the payload bytes");
  flags.Uint("payload-bytes", &a.payload_bytes, 0, 1 << 20, "list: payload bytes shown (40)");
  const bool known = a.sub == "list" || a.sub == "show" || a.sub == "requeue" || a.sub == "purge";
  Status s = flags.Parse(argc, argv, known ? 3 : 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!known)
    return Error("dead", "give a subcommand: list, show, requeue or purge (see --help)", 2);
  const std::string cmd = "dead " + a.sub;
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  if (a.queue.empty() && a.dir.empty()) return Error(cmd, "--queue is required (see --help)", 2);
  if (a.sub == "requeue" && a.queue.empty()) return Error(cmd, "--queue is required", 2);
  const bool has_id = flags.Seen("id");
  if (a.sub == "show" && !has_id) return Error(cmd, "--id is required", 2);
  if ((a.sub == "requeue" || a.sub == "purge") && has_id == a.all) {
    return Error(cmd, "give exactly one of --id and --all", 2);
  }
  DeadLettersOptions options;
  options.queue = a.queue;
  options.dir = a.dir;
  options.wait_for_daemon_ms = static_cast<uint32_t>(a.wait_s * 1000);
  std::unique_ptr<DeadLetters> store;
  s = DeadLetters::Open(options, &store);
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  if (!store->exists() && (a.sub == "list" || (a.sub == "purge" && a.all))) {
    if (a.sub == "purge") std::printf("purged 0\n");
    return 0;  // no job ever died here (show, requeue and purge --id say so)
  }
  if (a.sub == "list") return List(a, *store);
  if (a.sub == "show") return Show(a, *store);
  return Change(a, *store);
}

}  // namespace taskring::cli
