#include "daemon/serve.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "daemon/engine.h"
#include "daemon/log.h"
#include "daemon/metrics_exporter.h"
#include "daemon/metrics_target_file.h"
#include "daemon/readiness.h"
#include "daemon/recovery.h"
#include "daemon/supervisor.h"
#include "segment/segment.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/file_lock.h"
#include "util/futex.h"
#include "util/version.h"
#include "wal/queue_identity.h"
#include "wal/wal_writer.h"

namespace taskring::daemon {
namespace {

segment::Durability ParseDurability(const std::string& s) {
  if (s == "interval") return segment::Durability::kInterval;
  if (s == "none") return segment::Durability::kNone;
  return segment::Durability::kFsync;
}

// The outcome index (in the segment, so reserved with it) holds one entry per 256 B of the
// store's bound: enough for records of small results; beyond that, the oldest records are
// displaced from the index (counted as evicted) before the byte bound removes them.
uint32_t OutcomeIndexEntriesFor(uint64_t result_max_mb) {
  const uint64_t wanted = std::max<uint64_t>((result_max_mb << 20) / 256, 4096);
  return static_cast<uint32_t>(
      std::min<uint64_t>(std::bit_ceil(wanted), segment::kMaxOutcomeIndexEntries));
}

int Fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "taskringd: %s\n", msg.c_str());
  return code;
}

// Checks DIR/IDENTITY against this start's queue and parameters (another queue's name is an
// error; changes are logged) and fills *record with what to write once the start has succeeded:
// a refused start must not record parameters that never served. A directory from before
// identities were written is adopted.
Status CheckIdentity(const ServeConfig& cfg, wal::QueueIdentity* record, bool* changed) {
  wal::QueueIdentity& wanted = *record;
  wanted.queue = cfg.queue;
  wanted.capacity = static_cast<uint32_t>(cfg.capacity);
  wanted.max_payload = static_cast<uint32_t>(cfg.max_payload);
  wanted.durability = static_cast<uint8_t>(ParseDurability(cfg.durability));
  wanted.created_unix_ns = util::NowUnixNs();
  *changed = true;
  wal::QueueIdentity recorded;
  Status s = wal::ReadQueueIdentity(cfg.dir, &recorded);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return s;
  std::vector<std::string> changes;
  s = wal::CompareQueueIdentity(recorded, wanted, cfg.dir, &changes);
  if (!s.ok()) return s;
  for (const std::string& c : changes) {
    LogEvent("configuration changed since last start: %s", c.c_str());
  }
  wanted.created_unix_ns = recorded.created_unix_ns;
  *changed = !changes.empty();
  return Status::OK();
}

// Starts the exporter. When the default address was not asked for explicitly and its port is
// taken (another queue's daemon), any free port is used instead: many queues on one host work
// with default flags, and `taskring queue list` / the target file say where each one is.
Status StartExporter(const ServeConfig& cfg, const segment::Segment& seg,
                     std::unique_ptr<MetricsExporter>* out, std::string* address) {
  *address = cfg.metrics_listen;
  const uint64_t outcome_max_bytes = cfg.result_max_mb << 20;  // OutcomeStoreOptions::max_bytes
  bool in_use = false;
  Status s = MetricsExporter::Start(*address, seg, outcome_max_bytes, out, &in_use);
  if (in_use && !cfg.metrics_listen_given) {
    const std::string host = cfg.metrics_listen.substr(0, cfg.metrics_listen.rfind(':'));
    LogEvent("metrics: %s is taken (another queue?); using a free port", address->c_str());
    *address = host + ":0";
    s = MetricsExporter::Start(*address, seg, outcome_max_bytes, out);
  }
  if (s.ok()) {
    *address = address->substr(0, address->rfind(':')) + ":" + std::to_string((*out)->port());
  }
  return s;
}

}  // namespace

int Serve(const ServeConfig& cfg) {
  SetLogQueue(cfg.queue);
  // Signals are taken synchronously by one thread, so the engine never runs a handler. Blocked
  // from the start: a SIGTERM during recovery waits until the queue serves, then stops it
  // cleanly, instead of killing the process with a staging segment and lock file left behind.
  // The exporter's HTTP threads inherit the mask and leave SIGTERM to the signal thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  const int dir_mode = cfg.group ? 0750 : 0700;
  const int file_mode = cfg.group ? 0640 : 0600;
  std::error_code ec;
  if (!std::filesystem::is_directory(cfg.dir, ec)) {
    if (!std::filesystem::create_directories(cfg.dir, ec) || ec) {
      return Fail("cannot create WAL directory " + cfg.dir + ": " + ec.message());
    }
    ::chmod(cfg.dir.c_str(), static_cast<mode_t>(dir_mode));
  }
  if (::access(cfg.dir.c_str(), W_OK | X_OK) != 0) {
    return Fail("WAL directory " + cfg.dir + " is not writable: " + std::strerror(errno));
  }
  // One daemon per WAL directory and one per queue name (the segment name is global).
  util::FileLock dir_lock, queue_lock;
  std::string holder;
  Status s = dir_lock.Acquire(cfg.dir + "/LOCK", file_mode, &holder);
  if (s.IsBusy()) {
    return Fail("another taskringd (pid " + holder + ") is using WAL directory " + cfg.dir);
  }
  if (!s.ok()) return Fail(s.ToString());
  s = queue_lock.Acquire(segment::LockPath(cfg.queue), file_mode, &holder);
  if (s.IsBusy()) {
    return Fail("another taskringd (pid " + holder + ") is serving queue '" + cfg.queue + "'");
  }
  if (!s.ok()) return Fail(s.ToString());
  // From here every exit path removes the lock file: a start that fails leaves nothing behind.
  struct LockCleanup {
    util::FileLock& lock;
    ~LockCleanup() { lock.UnlinkAndRelease(); }
  } lock_cleanup{queue_lock};

  wal::QueueIdentity identity;
  bool identity_changed = false;
  s = CheckIdentity(cfg, &identity, &identity_changed);
  if (!s.ok()) return Fail(s.ToString());

  RecoveryResult rec;
  s = RecoverFromWal(cfg.dir, cfg.salvage, &rec);
  if (!s.ok()) {
    return Fail("recovery failed: " + s.ToString() +
                (s.IsCorruption() ? " (start with --salvage to skip damaged records)" : ""));
  }
  if (rec.report.torn_tail_bytes != 0) {
    LogEvent("WAL: cut a torn tail of %llu bytes from %s (a write interrupted by a crash)",
             static_cast<unsigned long long>(rec.report.torn_tail_bytes),
             rec.report.torn_tail_file.c_str());
  }
  for (const std::string& p : rec.report.problems) LogEvent("WAL salvage skipped: %s", p.c_str());
  LogEvent("recovered %zu unfinished job(s) from %llu WAL record(s) in %llu segment(s)",
           rec.live.size(), static_cast<unsigned long long>(rec.report.records),
           static_cast<unsigned long long>(rec.report.segments));
  if (rec.was_running != 0) {
    LogEvent("%llu of them were running when the previous daemon stopped; they run again",
             static_cast<unsigned long long>(rec.was_running));
  }
  std::unique_ptr<deadletter::DeadLetterStore> dead_letters;
  s = deadletter::DeadLetterStore::Open(cfg.dir, file_mode, /*create=*/true, &dead_letters);
  if (!s.ok()) return Fail(s.ToString());
  if (const uint64_t stale = ReconcileDeadLetters(*dead_letters, rec.live); stale != 0) {
    LogEvent("removed %llu dead letter(s) of jobs whose DEAD record did not reach the WAL",
             static_cast<unsigned long long>(stale));
  }

  uint64_t dedup_window_ms = 0;
  s = util::ParseDurationMs(cfg.dedup_window, &dedup_window_ms);
  if (!s.ok()) return Fail("--dedup-window: " + s.ToString());
  std::unique_ptr<DedupStore> dedup;
  s = DedupStore::Open(io::Env::Default(), cfg.dir, dedup_window_ms * 1'000'000,
                       static_cast<size_t>(cfg.dedup_max), util::NowUnixNs(), file_mode, &dedup);
  if (!s.ok()) return Fail(s.ToString());
  if (dedup->truncated_bytes() != 0) {
    LogEvent("idempotency keys: cut a torn tail of %llu byte(s) from the key file",
             static_cast<unsigned long long>(dedup->truncated_bytes()));
  }
  // Keys logged with jobs the key file has not caught up with (it is written before WAL
  // segments are deleted, so every key is in one or the other).
  for (const RecoveredKey& k : rec.keys) {
    (void)dedup->AddFromLog(k.key, k.job_id, k.enqueued_unix_ns);
  }
  dedup->Expire(util::NowUnixNs());
  LogEvent("idempotency keys: %zu remembered (window %s, at most %llu)", dedup->size(),
           cfg.dedup_window.c_str(), static_cast<unsigned long long>(cfg.dedup_max));
  rec.keys.clear();

  wal::WalWriterOptions wopts;
  wopts.segment_bytes = cfg.wal_segment_mb << 20;
  wopts.prewrite_bytes = cfg.wal_prewrite_kb << 10;
  wopts.file_mode = file_mode;
  std::unique_ptr<wal::WalWriter> wal;
  s = wal::WalWriter::Open(cfg.dir, wopts, rec.next_lsn, &wal);
  if (!s.ok()) return Fail(s.ToString());

  segment::CreateOptions copts;
  copts.params.capacity = static_cast<uint32_t>(cfg.capacity);
  copts.params.max_payload = static_cast<uint32_t>(cfg.max_payload);
  copts.params.max_clients = static_cast<uint32_t>(cfg.max_clients);
  copts.params.lane_capacity = static_cast<uint32_t>(cfg.lane_capacity);
  copts.params.max_result = static_cast<uint32_t>(cfg.max_result);
  uint64_t result_ttl_ms = 0;
  s = util::ParseDurationMs(cfg.result_ttl, &result_ttl_ms);
  if (!s.ok()) return Fail("--result-ttl: " + s.ToString());
  copts.result_ttl_ns = result_ttl_ms * 1'000'000;
  // Ids come from the clock since the directory's creation; one that holds lower ids predates
  // that (or its clock was wrong): then any id may be its.
  const uint64_t created_us = identity.created_unix_ns / 1000;
  copts.first_job_id = rec.max_job_id != 0 && rec.max_job_id < created_us ? 1 : created_us;
  copts.params.outcome_index_entries = OutcomeIndexEntriesFor(cfg.result_max_mb);
  copts.durability = ParseDurability(cfg.durability);
  copts.default_max_attempts = static_cast<uint32_t>(cfg.max_attempts);
  copts.lease_ms = static_cast<uint32_t>(cfg.lease_ms);
  copts.retry_backoff_ms = static_cast<uint32_t>(cfg.retry_backoff_ms);
  copts.default_timeout_ms = static_cast<uint32_t>(cfg.job_timeout_ms);
  copts.group_access = cfg.group;
  copts.wal_dir = std::filesystem::absolute(cfg.dir, ec).lexically_normal().string();
  // Built under a staging name: until Install() nobody can attach, and any failure below
  // removes it (the Segment's destructor), so a refused start leaves no half-built queue.
  std::unique_ptr<segment::Segment> seg;
  s = segment::Segment::Create(cfg.queue, copts, &seg);
  if (!s.ok()) return Fail(s.ToString());

  OutcomeStoreOptions oopts;
  oopts.max_bytes = cfg.result_max_mb << 20;
  oopts.ttl_ns = result_ttl_ms * 1'000'000;
  oopts.file_mode = file_mode;
  std::unique_ptr<OutcomeStore> outcomes;
  s = OutcomeStore::Open(
      io::Env::Default(), cfg.dir, oopts,
      outcome::OutcomeIndex(static_cast<outcome::OutcomeIndexEntry*>(seg->outcome_index()),
                            seg->params().outcome_index_entries),
      util::NowUnixNs(), &outcomes);
  if (!s.ok()) return Fail(s.ToString());
  if (outcomes->truncated_bytes() != 0 || outcomes->damaged_records() != 0) {
    LogEvent("outcome store: cut a torn tail of %llu byte(s), skipped %llu damaged record(s)",
             static_cast<unsigned long long>(outcomes->truncated_bytes()),
             static_cast<unsigned long long>(outcomes->damaged_records()));
  }
  for (const std::string& p : outcomes->problems()) LogEvent("outcome store: %s", p.c_str());
  const uint64_t restored = RestoreOutcomes(outcomes.get(), &rec.outcomes);
  rec.outcomes.clear();
  rec.outcomes.shrink_to_fit();
  s = outcomes->Flush();
  if (s.ok()) s = outcomes->Sync();
  if (!s.ok()) return Fail("outcome store: " + s.ToString());
  LogEvent(
      "outcome store: %llu record(s), %llu MiB (%llu restored from the WAL; kept %s, at most "
      "%llu MiB)",
      static_cast<unsigned long long>(outcomes->records()),
      static_cast<unsigned long long>(outcomes->bytes() >> 20),
      static_cast<unsigned long long>(restored), cfg.result_ttl.c_str(),
      static_cast<unsigned long long>(cfg.result_max_mb));

  EngineConfig ecfg;
  ecfg.durability = copts.durability;
  ecfg.interval_ms = static_cast<uint32_t>(cfg.interval_ms);
  ecfg.shutdown_grace_ms = static_cast<uint32_t>(cfg.shutdown_grace_ms);
  ecfg.lease_ms = static_cast<uint32_t>(cfg.lease_ms);
  ecfg.retry_backoff_ms = static_cast<uint32_t>(cfg.retry_backoff_ms);
  ecfg.max_backoff_ms = static_cast<uint32_t>(cfg.max_backoff_ms);
  ecfg.wal_dir = cfg.dir;
  ecfg.wal_options = wopts;
  ecfg.dead_letters = dead_letters.get();
  ecfg.dead_max = cfg.dead_max;
  ecfg.dedup = dedup.get();
  ecfg.outcomes = outcomes.get();
  Engine engine(*seg, std::move(wal), ecfg);
  s = engine.Load(rec.live, rec.max_job_id);
  if (!s.ok()) return Fail(s.ToString());
  rec.live.clear();
  rec.live.shrink_to_fit();
  if (identity_changed) {
    s = wal::WriteQueueIdentity(cfg.dir, identity, file_mode);
    if (!s.ok()) return Fail(s.ToString());
  }

  std::unique_ptr<MetricsExporter> exporter;
  std::string metrics_address;
  if (!cfg.no_metrics) {
    s = StartExporter(cfg, *seg, &exporter, &metrics_address);
    if (!s.ok()) return Fail(s.ToString());
    seg->header()->metrics_port.store(static_cast<uint32_t>(exporter->port()));
  }
  s = seg->Install();
  if (!s.ok()) return Fail(s.ToString());
  // From here the queue exists under its name; a clean exit removes it.
  struct SegmentCleanup {
    const std::string& queue;
    ~SegmentCleanup() { segment::Segment::Remove(queue); }
  } segment_cleanup{cfg.queue};

  std::atomic<bool> stop{false};
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    LogEvent("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    NotifyStopping();
    stop.store(true);
    util::FutexWake(&seg->header()->doorbell, 1);
  });

  // Logged (and the target file written) before the queue is published, so whoever sees it
  // ready also finds these lines.
  const std::string summary = "capacity " + std::to_string(cfg.capacity) + ", max payload " +
                              std::to_string(cfg.max_payload) + " B, durability " + cfg.durability +
                              ", " + std::to_string(seg->layout().total_bytes >> 20) +
                              " MiB of shared memory";
  LogEvent("serving: %s, WAL %s, segment /dev/shm/%s", summary.c_str(), cfg.dir.c_str(),
           segment::ShmName(cfg.queue).c_str());
  if (exporter) LogEvent("metrics: http://%s/metrics", metrics_address.c_str());
  const bool sd_file = exporter && !cfg.metrics_sd_file.empty();
  if (sd_file) {
    s = WriteMetricsTargetFile(cfg.metrics_sd_file, metrics_address, cfg.queue);
    LogEvent("%s", s.ok() ? ("metrics target file: " + cfg.metrics_sd_file).c_str()
                          : s.ToString().c_str());  // not fatal: scrape configs may list it
  }
  seg->header()->daemon_state.store(static_cast<uint32_t>(segment::DaemonState::kRunning));
  seg->Publish();
  Supervisor supervisor(*seg, engine);
  supervisor.Start();
  NotifyReady(cfg.ready_fd_given ? static_cast<int>(cfg.ready_fd) : -1,
              "serving queue " + cfg.queue + (exporter ? ", metrics " + metrics_address : ""));
  s = engine.Run(stop);
  supervisor.Stop();
  signals.join();
  if (sd_file) ::unlink(cfg.metrics_sd_file.c_str());
  exporter.reset();
  seg->ReleaseDaemonLife();
  // Clients still attached keep their mapping and see STOPPED; new ones get "not running".
  // Unlinking (segment_cleanup) frees the segment's memory, which is reserved in full at creation.
  if (!s.ok()) return Fail("final WAL flush failed: " + s.ToString());
  return 0;
}

}  // namespace taskring::daemon
