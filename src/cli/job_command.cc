// taskring job show | result | cancel | wait: one job, by id, from the command line.
//
// Reads go through JobClient while the queue's daemon runs. Without a daemon, `show` and
// `result` read the outcome store of --dir directly (a scan: the index lives in the daemon's
// shared memory), so a finished job can still be inspected after the daemon stopped.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/text.h"
#include "outcome/outcome_reader.h"
#include "taskring/job_client.h"
#include "util/flags.h"
#include "util/job_meta.h"

namespace taskring::cli {
namespace {

constexpr const char* kDescription =
    "show    the job's state, attempts, priority, type, headers, progress, timestamps and last\n"
    "        error (--json: one JSON object).\n"
    "result  the bytes its handler returned, on stdout, exactly; exit 1 with a message when it\n"
    "        has none (not completed, or its outcome expired).\n"
    "cancel  a queued or delayed job is cancelled at once and never runs ('cancelled'); a running\n"
    "        one is asked to stop, its handler decides ('requested'); a finished one is left\n"
    "        ('already finished'). Durable once it prints 'cancelled'.\n"
    "wait    blocks until the job is finished (completed, dead, cancelled), then prints its\n"
    "        state; exit 0 when completed, 1 otherwise, 3 when --timeout passed first.\n"
    "\n"
    "Without a running daemon, show and result read DIR/outcomes (--dir) of finished jobs.\n"
    "Exit status: 0 done, 1 no such job, no daemon or an error, 2 wrong flags, 3 timed out.";

struct Args {
  std::string queue;
  std::string dir;
  uint64_t id = 0;
  bool json = false;
  uint64_t timeout_s = 0;
};

nlohmann::ordered_json ToJson(const JobStatus& st) {
  nlohmann::ordered_json j;
  j["id"] = st.id;
  j["token"] = st.token;
  j["state"] = JobStateName(st.state);
  j["attempt"] = st.attempt;
  j["max_attempts"] = st.max_attempts;
  j["priority"] = st.priority;
  j["type"] = st.type;
  nlohmann::ordered_json headers = nlohmann::ordered_json::object();
  for (const auto& [k, v] : st.headers) headers[k] = v;
  j["headers"] = headers;
  if (st.has_progress) {
    j["progress"] = {{"percent", st.progress_percent}, {"message", st.progress_message}};
  } else {
    j["progress"] = nullptr;
  }
  j["enqueued_unix_ns"] = st.enqueued_unix_ns;
  j["started_unix_ns"] = st.started_unix_ns;
  j["finished_unix_ns"] = st.finished_unix_ns;
  j["updated_unix_ns"] = st.updated_unix_ns;
  j["error"] =
      st.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(st.error);
  j["result_bytes"] = st.result_bytes;
  j["cancel_requested"] = st.cancel_requested;
  return j;
}

void PrintText(const JobStatus& st) {
  std::printf("id        %llu\n", static_cast<unsigned long long>(st.id));
  std::printf("state     %s%s\n", JobStateName(st.state),
              st.cancel_requested && !IsTerminal(st.state) ? " (cancel requested)" : "");
  if (!st.token.empty()) std::printf("token     %s\n", st.token.c_str());
  if (st.max_attempts != 0) {
    std::printf("attempt   %u of %u\n", st.attempt, st.max_attempts);
    std::printf("priority  %d\n", st.priority);
  }
  if (!st.type.empty()) std::printf("type      %s\n", Printable(st.type, 64).c_str());
  for (const auto& [k, v] : st.headers) {
    std::printf("header    %s: %s\n", Printable(k, 64).c_str(), Printable(v, 256).c_str());
  }
  if (st.has_progress) {
    std::printf("progress  %u%% %s\n", st.progress_percent,
                Printable(st.progress_message, 96).c_str());
  }
  if (st.enqueued_unix_ns != 0)
    std::printf("enqueued  %s\n", FormatUnixNs(st.enqueued_unix_ns).c_str());
  if (st.started_unix_ns != 0)
    std::printf("started   %s\n", FormatUnixNs(st.started_unix_ns).c_str());
  if (st.finished_unix_ns != 0) {
    std::printf("finished  %s\n", FormatUnixNs(st.finished_unix_ns).c_str());
  }
  if (!st.error.empty()) std::printf("error     %s\n", Printable(st.error, 2048).c_str());
  if (st.state == JobState::kCompleted) {
    std::printf("result    %llu bytes\n", static_cast<unsigned long long>(st.result_bytes));
  }
}

void Print(const JobStatus& st, bool json) {
  if (json) {
    // Errors, messages and headers are arbitrary bytes: invalid UTF-8 becomes U+FFFD.
    std::printf("%s\n",
                ToJson(st).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    PrintText(st);
  }
}

// Without a daemon: the latest outcome record of the job in DIR/outcomes.
Status ReadOffline(const std::string& dir, uint64_t id, bool with_result,
                   outcome::OutcomeRecord* rec, uint32_t* result_len) {
  const outcome::OutcomeReader reader(dir + "/outcomes", outcome::OutcomeIndex());
  return reader.Find(id, with_result, rec, result_len);
}

JobStatus StatusOf(const outcome::OutcomeRecord& rec, uint32_t result_len) {
  JobStatus st;
  st.id = rec.job_id;
  JobToken token;
  token.id = rec.job_id;
  token.secret = rec.secret;
  st.token = token.ToString();
  st.state = rec.state;
  st.attempt = rec.attempt;
  st.max_attempts = rec.max_attempts;
  st.priority = rec.priority;
  util::JobMeta meta;
  if (util::DecodeJobMeta(rec.meta, &meta).ok()) {
    st.type = meta.type;
    st.headers = meta.headers;
  }
  st.enqueued_unix_ns = rec.enqueued_unix_ns;
  st.started_unix_ns = rec.started_unix_ns;
  st.finished_unix_ns = rec.finished_unix_ns;
  st.updated_unix_ns = rec.finished_unix_ns;
  st.error = rec.error;
  st.result_bytes = result_len;
  return st;
}

int Offline(const std::string& cmd, const std::string& sub, const Args& a, const Status& why) {
  if (a.dir.empty() || (sub != "show" && sub != "result")) {
    return Error(
        cmd,
        why.ToString() + (sub == "show" || sub == "result"
                              ? " (give --dir to read a finished job from the outcome store)"
                              : ""),
        1);
  }
  outcome::OutcomeRecord rec;
  uint32_t result_len = 0;
  Status s = ReadOffline(a.dir, a.id, sub == "result", &rec, &result_len);
  if (s.IsNotFound()) {
    return Error(cmd,
                 "job " + std::to_string(a.id) + " has no outcome in " + a.dir +
                     "/outcomes (unknown, still queued when the daemon stopped, or expired)",
                 1);
  }
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  if (sub == "show") {
    Print(StatusOf(rec, result_len), a.json);
    return 0;
  }
  if (rec.state != JobState::kCompleted) {
    return Error(
        cmd, "job " + std::to_string(a.id) + " has no result: it is " + JobStateName(rec.state), 1);
  }
  std::fwrite(rec.result.data(), 1, rec.result.size(), stdout);
  return 0;
}

}  // namespace

int JobCommand(int argc, char** argv) {
  const std::string sub = argc >= 3 ? argv[2] : "";
  if (sub != "show" && sub != "result" && sub != "cancel" && sub != "wait") {
    if (sub == "--help" || sub == "-h") {
      std::printf("taskring job (show | result | cancel | wait) --queue NAME --id ID\n\n%s\n",
                  kDescription);
      return 0;
    }
    return Error("job", "expected show, result, cancel or wait (see taskring job --help)", 2);
  }
  const std::string cmd = "job " + sub;
  Args a;
  util::FlagSet flags(
      "taskring job (show | result | cancel | wait) --queue NAME --id ID [--json] "
      "[--timeout S] [--dir DIR]",
      kDescription);
  flags.String("queue", &a.queue, "queue name");
  flags.Uint("id", &a.id, 1, UINT64_MAX, "job id (what enqueue printed)");
  flags.Bool("json", &a.json, "show, wait: one JSON object");
  flags.Uint("timeout", &a.timeout_s, 0, 86400 * 365, "wait: give up after S seconds (0: never)");
  flags.String("dir", &a.dir, "the queue's WAL directory, to read finished jobs without a daemon");
  Status s = flags.Parse(argc, argv, 3);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error(cmd, std::string(s.message()) + " (see --help)", 2);
  if (a.queue.empty()) return Error(cmd, "--queue is required (see --help)", 2);
  if (a.id == 0) return Error(cmd, "--id is required (see --help)", 2);

  JobClientOptions o;
  o.queue = a.queue;
  std::unique_ptr<JobClient> client;
  s = JobClient::Open(o, &client);
  if (!s.ok()) return Offline(cmd, sub, a, s);

  if (sub == "show") {
    JobStatus st;
    s = client->GetStatus(a.id, &st);
    if (!s.ok()) return Error(cmd, s.ToString(), 1);
    Print(st, a.json);
    return 0;
  }
  if (sub == "result") {
    std::string result;
    s = client->GetResult(a.id, &result);
    if (!s.ok()) return Error(cmd, std::string(s.message()), 1);
    std::fwrite(result.data(), 1, result.size(), stdout);
    return 0;
  }
  if (sub == "cancel") {
    CancelOutcome outcome;
    s = client->Cancel(a.id, &outcome);
    if (!s.ok()) return Error(cmd, s.ToString(), 1);
    std::printf("%s\n", outcome == CancelOutcome::kCancelled   ? "cancelled"
                        : outcome == CancelOutcome::kRequested ? "requested"
                                                               : "already finished");
    return 0;
  }
  // wait: in slices, so a long wait stays responsive to the daemon going away.
  JobStatus st;
  const uint64_t limit_ms = a.timeout_s == 0 ? UINT64_MAX : a.timeout_s * 1000;
  uint64_t waited_ms = 0;
  for (;;) {
    const auto slice = static_cast<uint32_t>(std::min<uint64_t>(limit_ms - waited_ms, 60'000));
    s = client->Wait(a.id, slice, &st);
    if (!s.IsTimedOut()) break;
    waited_ms += slice;
    if (waited_ms >= limit_ms) {
      if (a.json) Print(st, true);
      return Error(cmd,
                   "job " + std::to_string(a.id) + " still " + JobStateName(st.state) + " after " +
                       std::to_string(a.timeout_s) + " s",
                   3);
    }
  }
  if (!s.ok()) return Error(cmd, s.ToString(), 1);
  if (a.json) {
    Print(st, true);
  } else {
    std::printf("%s\n", JobStateName(st.state));
  }
  return st.state == JobState::kCompleted ? 0 : 1;
}

}  // namespace taskring::cli
