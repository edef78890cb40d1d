// taskring enqueue: stdin records -> jobs, submitted in batches so a large file goes in fast.
// The input side (framing, JSON lines, --keyed) is in enqueue_input.h; this file submits,
// retries Busy, waits for and reopens the daemon, and prints one answer line per record.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/enqueue_input.h"
#include "taskring/producer.h"
#include "taskring/retry.h"
#include "util/clock.h"
#include "util/flags.h"
#include "util/job_meta.h"
#include "util/rfc3339.h"

namespace taskring::cli {
namespace {

constexpr uint64_t kMsNs = 1'000'000;

constexpr const char* kDescription =
    "Reads records from stdin and enqueues each as one job.\n"
    "\n"
    "input formats:\n"
    "  (default)      one record per line; a trailing '\\r' is removed (CRLF input)\n"
    "  -0, --null     records end with a NUL byte, as with xargs -0; bytes are taken as is\n"
    "  --json-lines   one JSON object per line: {\"payload\": \"<string>\"}; a malformed line,\n"
    "                 a missing or non-string payload, or any other field answers 'error'\n"
    "  --keyed        with any of the above: each record carries an idempotency key. A line or\n"
    "                 NUL record is KEY<TAB>PAYLOAD (the key ends at the first tab); a JSON line\n"
    "                 is {\"key\": \"<string>\", \"payload\": \"<string>\"}. A record without a\n"
    "                 tab or with an empty key answers 'error'. A key the queue saw within its\n"
    "                 dedup window (taskringd --dedup-window) creates no job: the record answers\n"
    "                 the first job's id with 'duplicate'. Keyed records go in one at a time,\n"
    "                 so --keyed is slower than plain input.\n"
    "A final record without a separator counts; a final separator does not add an empty one.\n"
    "An empty record (empty line, two NULs in a row, \"payload\": \"\") is not enqueued.\n"
    "\n"
    "job options (the same for every record; a bad value is a usage error, exit 2, before any\n"
    "input is read):\n"
    "  --priority N           0 (last) to 9 (first); default 5\n"
    "  --type T               a job type such as email.send ([A-Za-z0-9._:-], up to 64 bytes);\n"
    "                         only workers taking T (taskring worker --type) or all types run it\n"
    "  --delay-ms N           run no earlier than N ms from now\n"
    "  --run-at TIME          run no earlier than TIME, RFC 3339: 2026-11-30T08:00:00Z,\n"
    "                         2026-11-30T09:00:00.5+01:00 (not together with --delay-ms)\n"
    "  --max-attempts N       attempts before the job is dead-lettered (0: the queue's default)\n"
    "  --timeout-ms N         execution limit of one attempt (0: the queue's default)\n"
    "  --header K=V           a header carried to the worker (repeatable, up to 16; names\n"
    "                         [A-Za-z0-9._-], values without control characters)\n"
    "\n"
    "output: one line per input record, in input order:\n"
    "  accepted <id>           the job is in the daemon's log: it will run\n"
    "  accepted <id> duplicate (--keyed) the key was seen before: <id> is the first job's,\n"
    "                          nothing new was created\n"
    "  busy                    the queue was full (still full after --retry-busy SECONDS)\n"
    "  skipped empty           an empty record: nothing enqueued\n"
    "  error <reason>          not enqueued: a bad record (too large, bad JSON ...), or no\n"
    "                          daemon came back within --wait\n"
    "  unknown <id> <reason>   the daemon went away before confirming job <id>: it runs if it\n"
    "                          was logged, else never. Not submitted again (that could run it\n"
    "                          twice)\n"
    "\n"
    "daemon: if none runs (not started yet, stopped, crashed, restarting), wait up to --wait\n"
    "SECONDS for one (default 0: fail at once; one that is starting gets 5 s regardless). When it\n"
    "goes away mid-stream, reopen within --wait and carry on: records it never received are\n"
    "submitted again. If it does not come back in time, every remaining record answers 'error'\n"
    "without further waiting. With no daemon at the start: one line on stderr, exit 1, nothing\n"
    "read.\n"
    "\n"
    "exit status: 0 every record accepted (or skipped empty), 75 some busy and none failed,\n"
    "1 otherwise (any error or unknown line, unreadable input, no daemon), 2 wrong flags.";

enum class Answer { kPending, kAccepted, kBusy, kSkipped, kError, kUnknown };

struct Entry {
  std::string payload;
  std::string key;  // --keyed
  Answer answer = Answer::kPending;
  uint64_t job_id = 0;
  bool duplicate = false;  // kAccepted: the key named an earlier job
  std::string reason;      // kError, kUnknown
  bool busy = false;       // answered Busy in the last round (--retry-busy may submit it again)
};

struct Config {
  std::string queue;
  InputFormat format = InputFormat::kLines;
  uint64_t batch = 256;
  uint64_t retry_busy_s = 0;
  uint64_t wait_s = 0;
  bool keyed = false;
  EnqueueOptions eopts;
};

std::string OneLine(const Status& s) { return enqueue_internal::OneLine(s.ToString()); }

// Submits batches, retrying Busy (--retry-busy) and reopening the producer after the daemon went
// away (--wait). Each entry ends with exactly one answer.
class Submitter {
 public:
  explicit Submitter(const Config& cfg) : cfg_(cfg), rng_(std::random_device{}()) {}

  // Opens the producer, waiting up to --wait for a daemon.
  Status Open() {
    Status s = Reopen();
    outage_deadline_.reset();
    return s;
  }
  uint32_t max_payload() const { return max_payload_; }

  void Resolve(std::vector<Entry>& batch) {
    std::vector<size_t> unanswered, next;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].answer == Answer::kPending) unanswered.push_back(i);
    }
    std::optional<uint64_t> busy_deadline;
    uint32_t busy_round = 0;
    while (!unanswered.empty()) {
      if (producer_ == nullptr && !gave_up_) {
        Status s = Reopen();
        if (!s.ok()) GiveUp(s);
      }
      if (gave_up_) {
        for (size_t i : unanswered) Set(batch[i], Answer::kError, 0, give_up_reason_);
        return;
      }
      // A result the call did not reach keeps this: never submitted.
      EnqueueResult not_submitted;
      not_submitted.status = Status::Closed("not submitted");
      results_.assign(unanswered.size(), not_submitted);
      const Status bs =
          cfg_.keyed ? SubmitKeyed(batch, unanswered) : SubmitBatch(batch, unanswered);
      // Only a daemon that went away is an outage to wait out; one that answers with an error
      // (refusing: its disk failed) answers these records, and the stream goes on.
      const bool outage = !bs.ok() && (bs.IsClosed() || bs.IsNotFound() || bs.IsNotReady());
      next.clear();
      bool busy_left = false;
      for (size_t k = 0; k < unanswered.size(); ++k) {
        Entry& e = batch[unanswered[k]];
        const EnqueueResult& r = results_[k];
        e.busy = false;
        if (r.status.ok() && r.job_id != 0) {
          Set(e, Answer::kAccepted, r.job_id, {});
          e.duplicate = r.duplicate;
        } else if (r.status.IsBusy()) {
          e.busy = busy_left = true;
          next.push_back(unanswered[k]);  // answered below unless --retry-busy has time left
        } else if (r.job_id != 0) {
          // Handed to the daemon, not confirmed (Closed / IOError): it may run after a restart.
          Set(e, Answer::kUnknown, r.job_id, OneLine(r.status));
        } else if (outage) {
          next.push_back(unanswered[k]);  // never submitted: safe to submit again after reopening
        } else if (!bs.ok()) {
          Set(e, Answer::kError, 0, OneLine(bs));  // refused as a whole (e.g. storage error)
        } else {
          Set(e, Answer::kError, 0, OneLine(r.status));  // this record's own fault
        }
      }
      if (!outage) {
        outage_deadline_.reset();  // the daemon answered: a later outage gets a fresh --wait
      } else {
        producer_.reset();  // its calls all fail from now on: reopen, bounded by --wait
        const uint64_t now = util::NowMonoNs();
        if (!outage_deadline_) {
          outage_deadline_ = now + cfg_.wait_s * 1000 * kMsNs;
        } else if (now >= *outage_deadline_) {
          GiveUp(bs);  // reopened, failed again, and the time is up
        } else {
          // Reopened in this outage and failed again at once: do not spin.
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      if (busy_left) {
        const uint64_t now = util::NowMonoNs();
        if (!busy_deadline) busy_deadline = now + cfg_.retry_busy_s * 1000 * kMsNs;
        if (now >= *busy_deadline) {
          std::erase_if(next, [&](size_t i) {
            if (!batch[i].busy) return false;
            Set(batch[i], Answer::kBusy, 0, {});
            return true;
          });
        } else if (producer_ != nullptr) {
          // Exponential backoff with full jitter, seeded by the queue's retry-after hint.
          RetryPolicy policy;
          policy.max_backoff_ms = 1000;
          const uint32_t wait_ms = BackoffMs(policy, producer_->RetryAfterMs(), ++busy_round,
                                             std::uniform_real_distribution<double>(0, 1)(rng_));
          const uint64_t left_ms = (*busy_deadline - now) / kMsNs + 1;
          std::this_thread::sleep_for(
              std::chrono::milliseconds(std::min<uint64_t>(wait_ms, left_ms)));
        }
      }
      unanswered.swap(next);
    }
  }

 private:
  // The fast path: every record in one EnqueueBatch, one WAL commit wait.
  Status SubmitBatch(const std::vector<Entry>& batch, const std::vector<size_t>& unanswered) {
    views_.clear();
    for (size_t i : unanswered) views_.emplace_back(batch[i].payload);
    return producer_->EnqueueBatch(views_, results_, cfg_.eopts);
  }

  // --keyed: a key names one job, so each record is its own Enqueue (the library refuses keys
  // in a batch). Stops at a daemon that went away, as EnqueueBatch does: the records after it
  // keep "not submitted" and Resolve submits them again once it has reopened the producer.
  Status SubmitKeyed(const std::vector<Entry>& batch, const std::vector<size_t>& unanswered) {
    EnqueueOptions opts = cfg_.eopts;
    for (size_t k = 0; k < unanswered.size(); ++k) {
      const Entry& e = batch[unanswered[k]];
      opts.idempotency_key = e.key;
      const Status s = producer_->Enqueue(e.payload, opts, &results_[k]);
      if (results_[k].job_id == 0 && (s.IsClosed() || s.IsNotFound() || s.IsNotReady())) {
        return s;
      }
    }
    return Status::OK();
  }

  // Opens a producer, waiting for a daemon until the current outage's deadline (--wait from
  // when the outage began).
  Status Reopen() {
    if (!outage_deadline_) outage_deadline_ = util::NowMonoNs() + cfg_.wait_s * 1000 * kMsNs;
    for (;;) {
      const uint64_t now = util::NowMonoNs();
      ProducerOptions po;
      po.queue = cfg_.queue;
      po.wait_for_daemon_ms =
          static_cast<uint32_t>(*outage_deadline_ > now ? (*outage_deadline_ - now) / kMsNs : 0);
      std::unique_ptr<Producer> p;
      Status s = Producer::Open(po, &p);
      if (s.ok()) {
        producer_ = std::move(p);
        if (max_payload_ == 0) max_payload_ = producer_->max_payload();
        return s;
      }
      // Open waits for an absent daemon itself; one that is still stopping answers Closed at
      // once, so try again until the deadline.
      const bool transient = s.IsClosed() || s.IsNotFound() || s.IsNotReady();
      if (!transient || util::NowMonoNs() >= *outage_deadline_) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void GiveUp(const Status& s) {
    gave_up_ = true;
    give_up_reason_ =
        OneLine(s) + " (no daemon within --wait " + std::to_string(cfg_.wait_s) + " s)";
    std::fprintf(stderr,
                 "taskring enqueue: giving up on the daemon: %s; the remaining records answer "
                 "'error'\n",
                 give_up_reason_.c_str());
  }

  static void Set(Entry& e, Answer a, uint64_t id, std::string reason) {
    e.answer = a;
    e.job_id = id;
    e.reason = std::move(reason);
  }

  const Config& cfg_;
  std::mt19937_64 rng_;
  std::unique_ptr<Producer> producer_;
  uint32_t max_payload_ = 0;
  std::optional<uint64_t> outage_deadline_;  // set while the daemon is away
  bool gave_up_ = false;
  std::string give_up_reason_;
  std::vector<std::string_view> views_;
  std::vector<EnqueueResult> results_;
};

// The job options given as text (--run-at, --header) into `opts`, and every option checked
// the way the library will check it: a mistake is a usage error before any input is read, not
// one 'error' line per record.
Status JobOptions(const util::FlagSet& flags, const std::string& run_at,
                  const std::vector<std::string>& headers, EnqueueOptions* opts) {
  if (flags.Seen("run-at")) {
    if (flags.Seen("delay-ms"))
      return Status::InvalidArgument("--delay-ms and --run-at exclude each other");
    Status s = util::ParseRfc3339(run_at, &opts->run_at_unix_ns);
    if (!s.ok()) return Status::InvalidArgument("--run-at: " + std::string(s.message()));
  }
  Status s = util::ValidateJobType(opts->type);
  if (!s.ok()) return Status::InvalidArgument("--type: " + std::string(s.message()));
  for (const std::string& h : headers) {
    const size_t eq = h.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument("--header needs NAME=VALUE, not '" + h + "'");
    }
    opts->headers.emplace_back(h.substr(0, eq), h.substr(eq + 1));
    s = util::ValidateJobHeader(opts->headers.back().first, opts->headers.back().second);
    if (!s.ok()) return Status::InvalidArgument("--header " + h + ": " + std::string(s.message()));
  }
  // Count and total size (the key each --keyed record adds is checked per record).
  util::JobMeta meta{opts->type, {}, opts->headers};
  std::string encoded;
  s = util::EncodeJobMeta(meta, &encoded);
  if (!s.ok()) return Status::InvalidArgument("--type/--header: " + std::string(s.message()));
  return Status::OK();
}

}  // namespace

int EnqueueCommand(int argc, char** argv) {
  Config cfg;
  bool null_sep = false, json_lines = false;
  util::FlagSet flags(
      "taskring enqueue --queue NAME [-0 | --null | --json-lines] [--retry-busy SECONDS]\n"
      "                        [--wait SECONDS] [--batch N] [--max-attempts N] [--priority N]\n"
      "                        [--type T] [--delay-ms N | --run-at RFC3339] [--timeout-ms N]\n"
      "                        [--header K=V]... [--keyed] < input",
      kDescription);
  flags.String("queue", &cfg.queue, "queue name");
  flags.Bool("null", &null_sep, "(also -0) records end with NUL, not newline");
  flags.Bool("json-lines", &json_lines, "one JSON object per line: {\"payload\": \"...\"}");
  flags.Uint("retry-busy", &cfg.retry_busy_s, 0, 86400,
             "retry a busy record up to N seconds, backoff with jitter (0)");
  flags.Uint("wait", &cfg.wait_s, 0, 86400, "wait up to N seconds for an absent daemon (0)");
  flags.Uint("batch", &cfg.batch, 1, 65536, "records per batch, one WAL commit wait each (256)");
  uint64_t max_attempts = 0, priority = kDefaultPriority, timeout_ms = 0;
  std::string run_at;
  std::vector<std::string> headers;
  flags.Uint("max-attempts", &max_attempts, 0, 255, "attempts per job (0 = queue default)");
  flags.Uint("priority", &priority, kMinPriority, kMaxPriority, "0 (last) to 9 (first) (5)");
  flags.String("type", &cfg.eopts.type, "job type, e.g. email.send (none)");
  flags.Uint("delay-ms", &cfg.eopts.delay_ms, 0, UINT32_MAX, "run no earlier than N ms from now");
  flags.String("run-at", &run_at, "run no earlier than this RFC 3339 time");
  flags.Uint("timeout-ms", &timeout_ms, 0, UINT32_MAX,
             "execution limit of one attempt (0 = queue default)");
  flags.StringList("header", &headers, "K=V header for the worker (repeatable)");
  flags.Bool("keyed", &cfg.keyed, "records carry an idempotency key (KEY<TAB>PAYLOAD)");
  // The flag parser knows only long flags: -0 is spelled --null for it.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> argv2;
  for (std::string& a : args) {
    if (a == "-0") a = "--null";
    argv2.push_back(a.data());
  }
  Status s = flags.Parse(argc, argv2.data(), 2);
  if (flags.help()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) return Error("enqueue", std::string(s.message()) + " (see --help)", 2);
  if (cfg.queue.empty()) return Error("enqueue", "--queue is required (see --help)", 2);
  if (null_sep && json_lines) {
    return Error("enqueue", "-0/--null and --json-lines exclude each other (see --help)", 2);
  }
  cfg.format = null_sep     ? InputFormat::kNull
               : json_lines ? InputFormat::kJsonLines
                            : InputFormat::kLines;
  cfg.eopts.max_attempts = static_cast<uint32_t>(max_attempts);
  cfg.eopts.priority = static_cast<int>(priority);
  cfg.eopts.timeout_ms = static_cast<uint32_t>(timeout_ms);
  s = JobOptions(flags, run_at, headers, &cfg.eopts);
  if (!s.ok()) return Error("enqueue", enqueue_internal::OneLine(s.message()) + " (see --help)", 2);

  Submitter submitter(cfg);
  s = submitter.Open();
  if (!s.ok()) return Error("enqueue", s.ToString(), 1);

  RecordReader reader(
      cfg.format, [](char* buf, size_t len) { return ::read(STDIN_FILENO, buf, len); },
      [] {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
      },
      MaxRecordBytes(cfg.format, submitter.max_payload(), cfg.keyed));

  bool any_busy = false, any_error = false;
  std::vector<Entry> batch;
  std::string out;
  auto flush_batch = [&] {
    submitter.Resolve(batch);
    out.clear();
    for (const Entry& e : batch) {
      switch (e.answer) {
        case Answer::kAccepted:
          out += "accepted " + std::to_string(e.job_id) + (e.duplicate ? " duplicate\n" : "\n");
          break;
        case Answer::kSkipped: out += "skipped empty\n"; break;
        case Answer::kBusy:
          any_busy = true;
          out += "busy\n";
          break;
        case Answer::kUnknown:
          any_error = true;
          out += "unknown " + std::to_string(e.job_id) + " " + e.reason + "\n";
          break;
        case Answer::kPending:  // cannot happen: Resolve answers every entry
        case Answer::kError:
          any_error = true;
          out += "error " + e.reason + "\n";
          break;
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    batch.clear();
  };

  RawRecord raw;
  RecordReader::Result r;
  while ((r = reader.Next(&raw)) == RecordReader::Result::kRecord) {
    ParsedRecord rec = ParseRecord(cfg.format, std::move(raw), submitter.max_payload(), cfg.keyed);
    Entry& e = batch.emplace_back();
    switch (rec.kind) {
      case ParsedRecord::Kind::kPayload:
        e.payload = std::move(rec.payload);
        e.key = std::move(rec.key);
        break;
      case ParsedRecord::Kind::kSkipEmpty: e.answer = Answer::kSkipped; break;
      case ParsedRecord::Kind::kError:
        e.answer = Answer::kError;
        e.reason = std::move(rec.error);
        break;
    }
    // A partial batch goes out as soon as no further record is at hand, so an interactive
    // producer gets its answer per record.
    if (batch.size() >= cfg.batch || !reader.MoreWithoutBlocking()) flush_batch();
  }
  if (!batch.empty()) flush_batch();
  if (r == RecordReader::Result::kError) return Error("enqueue", reader.error(), 1);
  if (any_error) return 1;
  return any_busy ? 75 : 0;
}

}  // namespace taskring::cli
