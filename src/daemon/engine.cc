#include "daemon/engine.h"

#include <cstring>

#include "daemon/job_records.h"
#include "daemon/log.h"
#include "daemon/retry_backoff.h"
#include "metrics/histogram.h"
#include "util/clock.h"
#include "util/futex.h"
#include "wal/wal_segment.h"

namespace taskring::daemon {

using segment::JobStateCode;
using segment::LaneOp;
using segment::PackSlotWord;
using segment::SlotState;

namespace {
constexpr uint64_t kMsNs = 1'000'000;
constexpr uint64_t kLaneBudget = 4096;  // records per lane per step: keeps lanes fair
constexpr int kIdleSpins = 4000;

uint64_t OldestSegmentOnDisk(io::Env* env, const std::string& wal_dir, uint64_t current) {
  std::vector<wal::SegmentFile> files;
  if (!wal_dir.empty() && wal::ListSegments(wal_dir, &files, env).ok() && !files.empty()) {
    return files.front().number;
  }
  return current;
}
}  // namespace

Engine::Engine(segment::Segment& seg, std::unique_ptr<wal::WalWriter> wal,
               const EngineConfig& config)
    : seg_(seg),
      wal_(std::move(wal)),
      config_(config),
      clients_(seg),
      handoff_(seg, uint64_t{config.repair_ms} * kMsNs),
      router_(seg, handoff_),
      leases_(seg.params().capacity, uint64_t{config.lease_ms} * kMsNs),
      retention_(
          config.wal_options.env, config.wal_dir, seg.params().capacity,
          OldestSegmentOnDisk(config.wal_options.env, config.wal_dir, wal_->current_segment())),
      dead_letters_(config.dead_letters, config.dead_max, seg),
      syncer_([hdr = seg.header()] {
        util::WakeIfSleepers(&hdr->doorbell, &hdr->daemon_sleeping, 1);
      }) {}

Status Engine::Load(std::vector<RecoveredJob>& jobs, uint64_t max_job_id) {
  now_ = util::Now::Read();
  const auto& p = seg_.params();
  if (jobs.size() > p.capacity) {
    return Status::InvalidArgument("the WAL holds " + std::to_string(jobs.size()) +
                                   " unfinished jobs but --capacity is " +
                                   std::to_string(p.capacity) + "; start with a larger capacity");
  }
  uint32_t slot = 0;
  for (RecoveredJob& j : jobs) {
    if (j.payload.size() + j.meta.size() > p.max_payload) {
      return Status::InvalidArgument("the WAL holds job " + std::to_string(j.id) + " of " +
                                     std::to_string(j.payload.size() + j.meta.size()) +
                                     " bytes (payload and meta), more than --max-payload " +
                                     std::to_string(p.max_payload));
    }
    util::JobMeta meta;
    if (!util::DecodeJobMeta(j.meta, &meta).ok()) {
      return Status::Corruption("the WAL holds job " + std::to_string(j.id) +
                                " with a meta that does not decode");
    }
    segment::FillSlotHeader(
        seg_.slot(slot),
        {.job_id = j.id,
         .enqueued_unix_ns = j.enqueued_unix_ns,
         .payload_len = static_cast<uint32_t>(j.payload.size()),
         .attempts_made = j.attempts_made,
         .max_attempts = j.max_attempts != 0 ? j.max_attempts : seg_.header()->default_max_attempts,
         .not_before_unix_ns = j.not_before_unix_ns,
         .priority = static_cast<uint8_t>(std::min<uint32_t>(j.priority, kMaxPriority)),
         .meta_len = static_cast<uint16_t>(j.meta.size()),
         .timeout_ms = j.timeout_ms});
    std::memcpy(seg_.payload(slot), j.payload.data(), j.payload.size());
    if (!j.meta.empty()) {
      std::memcpy(seg_.meta(slot, static_cast<uint32_t>(j.payload.size())), j.meta.data(),
                  j.meta.size());
    }
    segment::ResetSlotExtra(seg_.extra(slot));
    seg_.slot(slot)->started_unix_ns = j.started_unix_ns;
    segment::StatusEntry* entry = seg_.status_entry(j.id);
    entry->slot.store(slot, std::memory_order_relaxed);
    static_assert(sizeof(j.secret) == segment::kTokenSecretBytes);
    segment::StoreSecret(entry, j.secret.data());
    entry->packed.store(segment::PackStatus(j.id, JobStateCode::kPending, j.attempts_made),
                        std::memory_order_release);  // the entry is the job's from here
    router_.SetType(slot, util::JobTypeHash(meta.type));
    retention_.Pin(slot, j.wal_segment);
    Schedule(slot, 1);
    if (j.was_running) seg_.Add(segment::Counter::kRedelivered);
    ++slot;
  }
  outstanding_ = jobs.size();
  // Highest first, so producers start from the lowest free slot.
  for (uint32_t s = p.capacity; s-- > slot;) {
    if (!seg_.free_stack().Push(segment::PackSlotRef(s, 1))) {
      return Status::Corruption("free stack is smaller than the capacity");
    }
  }
  // Ids never repeat on this host, even when the WAL directory was wiped: the next one is at
  // least the wall clock in microseconds, so ids handed out before stay below it unless the
  // last run handed out more than a million ids a second on average (or the clock went back).
  // Microseconds keep ids below 2^53, exact in JavaScript's numbers (JSON clients).
  seg_.header()->next_job_id.store(std::max(max_job_id + 1, now_.unix_ns / 1000),
                                   std::memory_order_release);
  io::FileStat st;
  if (!config_.wal_dir.empty() &&
      config_.wal_options.env->Stat(config_.wal_dir + "/paused", &st).ok()) {
    seg_.header()->paused.store(1, std::memory_order_relaxed);
    LogEvent("the queue is paused (taskring queue resume to hand out jobs again)");
  }
  dead_letters_.Refresh(now_.mono_ns, /*force=*/true);
  PublishGauges();
  return Status::OK();
}

void Engine::SetJobStatus(uint64_t id, JobStateCode state, uint32_t attempt) {
  segment::StatusEntry* e = seg_.status_entry(id);
  JobState ignored_state;
  uint32_t ignored_attempt;
  // A newer job took the entry (only if its producer drew ids past many live ones): leave it.
  if (!segment::UnpackStatus(e->packed.load(std::memory_order_acquire), id, &ignored_state,
                             &ignored_attempt)) {
    return;
  }
  e->updated_unix_ns.store(now_.unix_ns, std::memory_order_relaxed);
  e->packed.store(segment::PackStatus(id, state, attempt), std::memory_order_release);
}

void Engine::AddRecord(wal::WalRecord& r) {
  wal_->Add(r);
  seg_.Add(segment::Counter::kWalRecords);
}

void Engine::ProcessCommands() {
  Command c;
  while (commands_.try_dequeue(c)) {
    if (!seg_.ValidClient(c.client)) continue;
    if (seg_.client(c.client)->owner.load(std::memory_order_acquire) != c.owner) continue;
    // On failure the supervisor reports the client again on its next scan.
    (void)ReleaseClient(c.client, c.owner, c.kind == Command::Kind::kClientGone);
  }
}

bool Engine::DrainLane(uint32_t client) {
  segment::LaneView lane = seg_.lane(client);
  uint64_t head = 0, tail = 0;
  if (!lane.Pending(&head, &tail)) {
    LogEvent("client %u: lane cursors are corrupt (head %llu, tail %llu); ignoring its lane",
             client, static_cast<unsigned long long>(head), static_cast<unsigned long long>(tail));
    lane.Consume(tail);
    return false;
  }
  if (head == tail) return false;
  const uint64_t end = tail - head > kLaneBudget ? head + kLaneBudget : tail;
  for (uint64_t pos = head; pos < end; ++pos) Handle(client, lane, pos);
  lane.Consume(end);
  clients_.Drained(client, end);
  return true;
}

void Engine::Handle(uint32_t client, segment::LaneView& lane, uint64_t pos) {
  const segment::LaneRecord rec = lane.Read(pos);
  switch (static_cast<LaneOp>(rec.op)) {
    case LaneOp::kPause:
    case LaneOp::kResume:
    case LaneOp::kPurge: HandleQueueOp(client, static_cast<LaneOp>(rec.op), lane, pos); return;
    case LaneOp::kCancel: HandleCancel(client, lane, pos); return;
    default: break;
  }
  if (!seg_.ValidSlot(rec.slot)) {
    LogEvent("client %u: record names slot %u beyond capacity; ignored", client, rec.slot);
    return;
  }
  switch (static_cast<LaneOp>(rec.op)) {
    case LaneOp::kEnqueue: {
      const segment::SlotHeader* h = seg_.slot(rec.slot);
      if (h->word.load(std::memory_order_acquire) !=
          PackSlotWord(rec.slot_gen, client, SlotState::kSubmitted)) {
        LogEvent("client %u: enqueue of slot %u in an unexpected state; ignored", client, rec.slot);
        return;
      }
      HandleEnqueue(client, rec.slot, lane, pos);
      return;
    }
    case LaneOp::kStart: HandleHeartbeat(client, rec, /*start=*/true); return;
    case LaneOp::kTouch: HandleHeartbeat(client, rec, /*start=*/false); return;
    case LaneOp::kComplete: HandleOutcome(client, rec, /*complete=*/true, false); return;
    case LaneOp::kFail: HandleOutcome(client, rec, /*complete=*/false, false); return;
    case LaneOp::kCompleteResult: HandleOutcome(client, rec, /*complete=*/true, true); return;
    case LaneOp::kFailError: HandleOutcome(client, rec, /*complete=*/false, true); return;
    case LaneOp::kRelease: HandleRelease(client, rec); return;
    default: break;
  }
  LogEvent("client %u: unknown lane op %u; ignored", client, rec.op);
}

void Engine::HandleEnqueue(uint32_t client, uint32_t slot, segment::LaneView& lane, uint64_t pos) {
  wal::WalRecord r;
  util::JobMeta meta;
  std::string why;
  if (!EnqueueRecordOf(seg_, slot, /*attempts=*/0, &r, &meta, &why)) {
    LogEvent("client %u: slot %u %s; dropped", client, slot, why.c_str());
    handoff_.FreeSlot(slot);
    return;
  }
  if (!meta.key.empty() && config_.dedup != nullptr) {
    if (const std::optional<uint64_t> first = config_.dedup->Find(meta.key, now_.unix_ns)) {
      // Nothing is created. The answer is read once this record's commit is published, which
      // is never before the first job's (it was logged in this group or an earlier one).
      seg_.Add(segment::Counter::kDedupHits);
      lane.Answer(pos, segment::MakeAnswer(LaneOp::kEnqueue, *first, segment::kAnswerDuplicate));
      SetJobStatus(r.job_id, JobStateCode::kUnknown, 0);  // the id the producer drew names nothing
      handoff_.FreeSlot(slot);
      return;
    }
    (void)config_.dedup->Add(meta.key, r.job_id, now_.unix_ns);
  }
  router_.SetType(slot, util::JobTypeHash(meta.type));
  AddRecord(r);
  retention_.Pin(slot, wal_->tail_segment());
  enqueues_unsynced_ = true;
  pending_.push_back({Action::kPublish, slot, JobStateCode::kUnknown, {}});
}

void Engine::HandleQueueOp(uint32_t client, LaneOp op, segment::LaneView& lane, uint64_t pos) {
  uint64_t answer = 0;
  if (op == LaneOp::kPurge) {
    answer = Purge();
    LogEvent("client %u: queue purged, %llu queued job(s) cancelled", client,
             static_cast<unsigned long long>(answer));
  } else {
    const bool pause = op == LaneOp::kPause;
    Status s = SetPaused(pause);
    if (!s.ok()) {
      LogEvent("client %u: cannot %s the queue: %s", client, pause ? "pause" : "resume",
               s.ToString().c_str());
      answer = UINT64_MAX;  // QueueControl reports it as an IOError
    } else {
      answer = pause ? 1 : 0;
      LogEvent("client %u: queue %s", client, pause ? "paused: no job is handed out" : "resumed");
    }
  }
  lane.Answer(pos, segment::MakeAnswer(op, answer, 0));
}

Status Engine::SetPaused(bool paused) {
  io::Env* env = config_.wal_options.env;
  if (!config_.wal_dir.empty()) {
    // The state outlives the daemon: a restart during a deploy must not resume the queue.
    const std::string path = config_.wal_dir + "/paused";
    Status s;
    if (paused) {
      std::unique_ptr<io::WritableFile> f;
      io::WritableFileOptions opts;
      opts.mode = config_.wal_options.file_mode;
      s = env->NewWritableFile(path, opts, &f);
      if (s.ok()) s = f->Close();
    } else {
      s = env->RemoveFile(path);
      if (s.IsNotFound()) s = Status::OK();
    }
    if (s.ok()) s = env->SyncDir(config_.wal_dir);
    if (!s.ok()) return s;
  }
  seg_.header()->paused.store(paused ? 1 : 0, std::memory_order_seq_cst);
  if (paused) router_.Recall();  // what workers have not taken yet waits with the daemon
  return Status::OK();
}

uint64_t Engine::Purge() {
  router_.Recall();  // from here no worker can take a queued job: it is cancelled or left alone
  std::vector<uint8_t> deciding(seg_.params().capacity, 0);  // records of these are in flight
  for (const Pending& p : pending_) deciding[p.slot] = 1;
  for (const Pending& p : syncing_pending_) deciding[p.slot] = 1;
  uint64_t cancelled = 0;
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    segment::SlotHeader* h = seg_.slot(i);
    uint64_t w = h->word.load(std::memory_order_acquire);
    const SlotState state = segment::SlotStateOf(w);
    if ((state != SlotState::kQueued && state != SlotState::kDelayed) ||
        segment::SlotOwner(w) != segment::kNoClient || deciding[i] != 0) {
      continue;
    }
    cancelled += CancelWaitingJob(i);
  }
  return cancelled;
}

void Engine::HandleHeartbeat(uint32_t client, const segment::LaneRecord& rec, bool start) {
  segment::SlotHeader* h = seg_.slot(rec.slot);
  const uint64_t word = h->word.load(std::memory_order_acquire);
  auto is = [&](SlotState s) { return word == PackSlotWord(rec.slot_gen, client, s); };
  const uint32_t attempt = h->attempt.load(std::memory_order_relaxed);
  if (start && rec.attempt == 1 && attempt == 1 &&
      (is(SlotState::kRunning) || is(SlotState::kCompleting) || is(SlotState::kFailing))) {
    // Even when a fast job's outcome overtook this record: wait = accepted -> first start.
    const uint64_t started = h->started_unix_ns, enqueued = h->enqueued_unix_ns;
    Observe(segment::Histogram::kJobWait, started > enqueued ? started - enqueued : 0);
  }
  // A lease lives only as long as this daemon: after a restart every job that was running is
  // handed out again.
  if (!is(SlotState::kRunning) || attempt != rec.attempt) {
    return;  // the lease already ended (expired, or the outcome overtook the heartbeat)
  }
  if (!leases_.Renew(rec.slot, {rec.slot_gen, client, rec.attempt}, now_.mono_ns,
                     uint64_t{h->timeout_ms} * kMsNs)) {
    return;
  }
  // No sync forced: if the daemon dies first, the job is handed out again anyway; this only
  // lets the next daemon count that run as an attempt.
  wal::WalRecord r;
  r.type = wal::RecordType::kStart;
  r.job_id = h->job_id;
  r.attempt = rec.attempt;
  r.event_unix_ns = h->started_unix_ns;
  AddRecord(r);
}

void Engine::HandleOutcome(uint32_t client, const segment::LaneRecord& rec, bool complete,
                           bool with_text) {
  segment::SlotHeader* h = seg_.slot(rec.slot);
  if (h->word.load(std::memory_order_acquire) !=
          PackSlotWord(rec.slot_gen, client,
                       complete ? SlotState::kCompleting : SlotState::kFailing) ||
      h->attempt.load(std::memory_order_relaxed) != rec.attempt) {
    seg_.Add(segment::Counter::kStaleAcks);
    return;
  }
  std::string text;
  if (with_text) {
    // The client's buffer holds the bytes until this record's commit, which it waits for. Its
    // length comes from shared memory: checked against both bounds before use.
    const uint32_t len = seg_.client(client)->result_len.load(std::memory_order_acquire);
    const uint64_t limit = complete ? seg_.params().max_result : outcome::kMaxErrorBytes;
    if (len <= limit && len <= seg_.layout().result_stride) {
      text.assign(seg_.result_buffer(client), len);
    } else {
      LogEvent("client %u: job %llu claims a %s of %u bytes, over the limit; dropped", client,
               static_cast<unsigned long long>(h->job_id), complete ? "result" : "error", len);
    }
  }
  leases_.End(rec.slot);
  Observe(segment::Histogram::kJobRun, SinceUnixNs(h->started_unix_ns));
  wal::WalRecord r;
  r.job_id = h->job_id;
  r.attempt = rec.attempt;
  r.event_unix_ns = now_.unix_ns;
  // A failure after a cancel request ends the job: the handler gave up because it was asked to.
  const bool cancel_requested = seg_.extra(rec.slot)->cancel.load(std::memory_order_relaxed) != 0;
  if (complete) {
    r.type = wal::RecordType::kComplete;
    pending_.push_back({Action::kFree, rec.slot, JobStateCode::kCompleted, std::move(text)});
  } else if (cancel_requested) {
    r.type = wal::RecordType::kCancel;
    pending_.push_back({Action::kCancel, rec.slot, JobStateCode::kCancelled, std::move(text)});
  } else if (rec.attempt >= h->max_attempts &&
             KeepDeadLetter(rec.slot, rec.attempt, deadletter::DeadReason::kFailed)) {
    r.type = wal::RecordType::kDead;
    pending_.push_back({Action::kFree, rec.slot, JobStateCode::kDead, std::move(text)});
  } else {
    r.type = wal::RecordType::kRetry;
    r.not_before_unix_ns = now_.unix_ns + RetryDelayNs(rec.attempt, config_.retry_backoff_ms,
                                                       config_.max_backoff_ms, rng_);
    h->not_before_unix_ns = r.not_before_unix_ns;  // the slot is the daemon's until requeued
    pending_.push_back(
        {Action::kRequeue, rec.slot, JobStateCode::kFailedRetrying, std::move(text)});
  }
  // The text is lent to the record for its encoding (AddRecord copies the bytes into the WAL
  // buffer), then given back: a result is not copied twice.
  std::string& kept = pending_.back().text;
  r.text = std::move(kept);
  AddRecord(r);
  kept = std::move(r.text);
}

void Engine::HandleRelease(uint32_t client, const segment::LaneRecord& rec) {
  segment::SlotHeader* h = seg_.slot(rec.slot);
  if (h->word.load(std::memory_order_acquire) !=
          PackSlotWord(rec.slot_gen, client, SlotState::kFailing) ||
      h->attempt.load(std::memory_order_relaxed) != rec.attempt || rec.attempt == 0) {
    seg_.Add(segment::Counter::kStaleAcks);
    return;
  }
  leases_.End(rec.slot);
  // The attempt is given back: logged as a retry of the attempt before it, which recovery
  // takes as the number of attempts made, so the next start is numbered as this one was.
  h->attempt.store(rec.attempt - 1, std::memory_order_relaxed);
  h->not_before_unix_ns = 0;
  wal::WalRecord r;
  r.type = wal::RecordType::kRetry;
  r.job_id = h->job_id;
  r.attempt = rec.attempt - 1;
  r.event_unix_ns = now_.unix_ns;
  r.text = "released by its worker (attempt not counted)";
  AddRecord(r);
  pending_.push_back({Action::kRelease, rec.slot, JobStateCode::kQueued, {}});
}

void Engine::HandleCancel(uint32_t client, segment::LaneView& lane, uint64_t pos) {
  const segment::LaneRecord rec = lane.Read(pos);
  const uint64_t id = (static_cast<uint64_t>(rec.slot_gen) << 32) | rec.slot;
  auto answer = [&](segment::CancelAnswer a) {
    lane.Answer(pos, segment::MakeAnswer(LaneOp::kCancel, static_cast<uint64_t>(a), 0));
  };
  const segment::StatusEntry* e = seg_.status_entry(id);
  JobState state;
  uint32_t attempt;
  if (id == 0 ||
      !segment::UnpackStatus(e->packed.load(std::memory_order_acquire), id, &state, &attempt)) {
    return answer(segment::CancelAnswer::kNotFound);  // never enqueued, or long finished
  }
  if (state == JobState::kCompleted || state == JobState::kDead || state == JobState::kCancelled) {
    return answer(segment::CancelAnswer::kAlreadyFinished);
  }
  const uint32_t slot = e->slot.load(std::memory_order_relaxed);
  if (!seg_.ValidSlot(slot) || seg_.slot(slot)->job_id != id) {
    return answer(segment::CancelAnswer::kNotFound);
  }
  segment::SlotHeader* h = seg_.slot(slot);
  const SlotState slot_state = segment::SlotStateOf(h->word.load(std::memory_order_acquire));
  if (!segment::IsLive(slot_state)) {
    // Submitted but not yet accepted: the caller cannot have been told its id yet.
    return answer(segment::CancelAnswer::kNotFound);
  }
  // From here the job is the canceller's to stop: a worker that takes it, or holds it, sees it.
  seg_.extra(slot)->cancel.store(1, std::memory_order_release);
  bool deciding = false;  // a record about it is in flight: its outcome decides (see below)
  for (const Pending& p : pending_) deciding |= p.slot == slot;
  for (const Pending& p : syncing_pending_) deciding |= p.slot == slot;
  if (!deciding && !segment::IsLeased(slot_state) && CancelWaitingJob(slot)) {
    LogEvent("client %u: job %llu cancelled", client, static_cast<unsigned long long>(id));
    return answer(segment::CancelAnswer::kCancelled);
  }
  // Running (or claimed by a worker this instant, or being requeued): its handler sees
  // cancel_requested(); a failure from here ends it as cancelled, not retried.
  seg_.Add(segment::Counter::kCancelRequests);
  answer(segment::CancelAnswer::kRequested);
}

bool Engine::CancelWaitingJob(uint32_t slot) {
  segment::SlotHeader* h = seg_.slot(slot);
  uint64_t w = h->word.load(std::memory_order_acquire);
  const SlotState state = segment::SlotStateOf(w);
  if ((state != SlotState::kQueued && state != SlotState::kDelayed) ||
      segment::SlotOwner(w) != segment::kNoClient) {
    return false;
  }
  // Daemon-held until the CANCEL record is logged; fails if a worker claimed it just now. Ring
  // entries and offers naming it are hints: a worker's claim of a DELAYED slot fails.
  if (!h->word.compare_exchange_strong(
          w, PackSlotWord(segment::SlotGen(w), segment::kNoClient, SlotState::kDelayed),
          std::memory_order_acq_rel)) {
    return false;
  }
  wal::WalRecord r;
  r.type = wal::RecordType::kCancel;
  r.job_id = h->job_id;
  r.attempt = h->attempt.load(std::memory_order_relaxed);
  r.event_unix_ns = now_.unix_ns;
  AddRecord(r);
  pending_.push_back({Action::kCancel, slot, JobStateCode::kCancelled, {}});
  enqueues_unsynced_ = true;  // durable before the canceller (or QueueControl) is answered
  return true;
}

Status Engine::Commit() {
  Status settled = SettleSync();
  if (!settled.ok()) return settled;
  const bool must_sync = config_.durability == segment::Durability::kFsync && enqueues_unsynced_;
  // A sync that failed earlier must be retried (and keeps failing while the writer's error is
  // sticky) before anyone is told Accepted: never return early with enqueues unsynced.
  if (wal_->buffered_bytes() == 0 && !must_sync) return Status::OK();
  Status s = FlushWal();
  if (!s.ok()) return s;
  // Only enqueues make a producer wait for the disk. Completions, retries and dead letters
  // reach the disk with the next sync (at most interval_ms later): losing one to a host crash
  // means the job runs again, which at-least-once allows.
  if (must_sync) {
    s = SyncWal();
    if (!s.ok()) return s;  // still unsynced: no producer is told Accepted
    enqueues_unsynced_ = false;
    wal_dirty_ = false;
    seg_.Add(segment::Counter::kWalFsyncs);
    last_sync_mono_ns_ = now_.mono_ns;
  } else {
    wal_dirty_ = true;
  }
  // Releasing a departed client commits too, and may be the first commit to get through: it must
  // end the refusal as well, or nothing would (no producer is admitted to make a step commit).
  EndRefusal();
  return Status::OK();
}

Status Engine::FlushWal() {
  // A DEAD record lets the job's ENQUEUE go, so its dead letter must be durable first.
  Status s = dead_letters_.Sync(now_.mono_ns);
  if (!s.ok()) return s;
  const uint64_t before = wal_->bytes_written();
  s = wal_->Flush();
  seg_.Add(segment::Counter::kWalBytes, wal_->bytes_written() - before);
  return s;
}

Status Engine::PipelinedCommit(bool* did) {
  if (syncer_.busy()) {
    Status s = CollectSync(/*wait=*/false);
    if (!s.ok()) return s;
    *did |= !syncer_.busy();
  }
  const bool work = !pending_.empty() || clients_.AnyDrained() || wal_->buffered_bytes() != 0 ||
                    enqueues_unsynced_;
  if (!work) return Status::OK();
  if (syncer_.busy()) {
    // Write the next group while the disk flushes this one; it is synced as soon as that is
    // back. A rotation would close the file under the sync: it waits.
    if (wal_->buffered_bytes() != 0 && !wal_->rotation_pending()) {
      Status s = FlushWal();
      if (!s.ok()) return s;
      written_during_sync_ = true;
      *did = true;
    }
    return Status::OK();
  }
  *did = true;
  // Nothing here makes a producer wait for the disk: write and apply at once, as Commit does.
  // A small group is synced at once too: producers that each wait for their own job arrive in
  // small groups, and a sync on another thread only adds two wake-ups to each of them
  // (measured: 8 such producers went from 12.9 k to 8.3 k jobs/s when every group was piped).
  if (!enqueues_unsynced_ || pending_.size() < config_.pipeline_min_group) {
    Status s = Commit();
    if (s.ok()) Apply();
    return s;
  }
  Status s = FlushWal();
  if (!s.ok()) return s;
  syncing_pending_.swap(pending_);
  syncing_group_ = clients_.Seal();
  enqueues_unsynced_ = false;
  written_during_sync_ = false;
  syncer_.Start(wal_->current_file());
  return Status::OK();
}

Status Engine::CollectSync(bool wait) {
  Status s;
  uint64_t took_ns = 0;
  if (wait) {
    syncer_.Collect(&s, &took_ns);
  } else if (!syncer_.TryCollect(&s, &took_ns)) {
    return Status::OK();
  }
  wal_->SyncFinished(s);
  now_ = util::Now::Read();
  if (!s.ok()) {
    // Nobody was told: the group goes back in front, for the checkpoint that re-logs it.
    syncing_pending_.insert(syncing_pending_.end(), pending_.begin(), pending_.end());
    pending_.swap(syncing_pending_);
    syncing_pending_.clear();
    clients_.Unseal(syncing_group_);
    syncing_group_.clear();
    enqueues_unsynced_ = true;
    return wal_->Sync();  // the writer's sticky error, annotated
  }
  Observe(segment::Histogram::kWalFsync, took_ns);
  seg_.Add(segment::Counter::kWalFsyncs);
  last_sync_mono_ns_ = now_.mono_ns;
  wal_dirty_ = written_during_sync_;
  ApplyCommitted(syncing_pending_, &syncing_group_);
  syncing_pending_.clear();
  syncing_group_.clear();
  // Records written meanwhile may still be failing to write: their flush ends the refusal.
  if (wal_->buffered_bytes() == 0) EndRefusal();
  return Status::OK();
}

void Engine::EndRefusal() {
  if (!refusing_) return;
  LogEvent("WAL writes succeed again; admitting new jobs");
  refusing_ = false;
  if (!stopping_) SetDaemonState(segment::DaemonState::kRunning);
}

void Engine::Apply() {
  ApplyCommitted(pending_, nullptr);
  pending_.clear();
}

void Engine::ApplyCommitted(std::vector<Pending>& actions, const ClientRegistry::Group* group) {
  // First what the clients of this commit wait for: new jobs in their place in priority order
  // (handed out before producers hear Accepted), requeued jobs, and cancels (a canceller told
  // "cancelled" reads it at once). Workers are woken after, so the futex call does not delay
  // the producers' answer.
  bool any_cancel = false;
  bool any_free = false;
  bool any_early = false;
  for (const Pending& p : actions) {
    any_cancel |= p.action == Action::kCancel;
    any_free |= p.action == Action::kFree;
    any_early |= p.action != Action::kPublish && p.action != Action::kFree;
  }
  // The records of failed attempts go in the store before their jobs can run again, those of
  // cancels before their cancellers hear.
  if (any_early) StoreOutcomes(actions, /*ends=*/false);
  // Counted here and added once per commit: each Add is an atomic write to a shared line.
  uint64_t accepted = 0, redelivered = 0, requeued = 0;
  for (const Pending& p : actions) {
    segment::SlotHeader* h = seg_.slot(p.slot);
    const uint32_t gen = segment::SlotGen(h->word.load(std::memory_order_relaxed));
    switch (p.action) {
      case Action::kPublish:
        ++accepted;
        Schedule(p.slot, gen);
        break;
      case Action::kRedeliver:
        ++redelivered;
        h->not_before_unix_ns = 0;
        Schedule(p.slot, gen);
        break;
      case Action::kRequeue:
        ++requeued;
        Schedule(p.slot, gen);
        break;
      case Action::kRelease: Schedule(p.slot, gen); break;
      case Action::kCancel:
      case Action::kFree: break;
    }
  }
  outstanding_ += accepted;
  if (accepted != 0) seg_.Add(segment::Counter::kAccepted, accepted);
  if (redelivered != 0) seg_.Add(segment::Counter::kRedelivered, redelivered);
  if (requeued != 0) {
    seg_.Add(segment::Counter::kFailed, requeued);
    seg_.Add(segment::Counter::kRetried, requeued);
  }
  if (any_cancel) EndJobs(actions, Action::kCancel);
  if (!stopping_) router_.Dispatch(now_.mono_ns);
  if (group != nullptr) {
    clients_.PublishCommitted(*group);
  } else {
    clients_.PublishCommitted();
  }
  router_.WakeWorkers();
  // Then completed and dead jobs, which no client of this commit waits for.
  if (any_free) {
    StoreOutcomes(actions, /*ends=*/true);
    EndJobs(actions, Action::kFree);
  }
}

void Engine::EndJobs(const std::vector<Pending>& actions, Action which) {
  uint64_t cancelled = 0, completed = 0, dead = 0;
  for (const Pending& p : actions) {
    if (p.action != which) continue;
    segment::SlotHeader* h = seg_.slot(p.slot);
    --outstanding_;
    if (p.action == Action::kCancel) {
      ++cancelled;
    } else {
      ++(p.state == JobStateCode::kCompleted ? completed : dead);
      Observe(segment::Histogram::kJobLatency, SinceUnixNs(h->enqueued_unix_ns));
    }
    SetJobStatus(h->job_id, p.state, h->attempt.load(std::memory_order_relaxed));
    retention_.Unpin(p.slot);
    handoff_.FreeSlot(p.slot);
  }
  if (cancelled != 0) seg_.Add(segment::Counter::kCancelled, cancelled);
  if (completed != 0) seg_.Add(segment::Counter::kCompleted, completed);
  if (dead != 0) {
    seg_.Add(segment::Counter::kDead, dead);
    seg_.Add(segment::Counter::kFailed, dead);
  }
  // JobClient::Wait callers re-check their job (the status entry is already set).
  segment::SegmentHeader* hdr = seg_.header();
  util::WakeIfSleepers(&hdr->outcome_futex, &hdr->outcome_waiters, INT32_MAX);
}

void Engine::StoreOutcomes(std::vector<Pending>& actions, bool ends) {
  if (config_.outcomes == nullptr) return;
  uint64_t added = 0;
  for (Pending& p : actions) {
    // A release is no outcome: the job's latest failure, if any, stays its last error.
    if (p.action == Action::kPublish || p.action == Action::kRelease ||
        (p.action == Action::kFree) != ends) {
      continue;
    }
    const JobState state = p.action == Action::kCancel           ? JobState::kCancelled
                           : p.action != Action::kFree           ? JobState::kRetrying
                           : p.state == JobStateCode::kCompleted ? JobState::kCompleted
                                                                 : JobState::kDead;
    const segment::SlotHeader* h = seg_.slot(p.slot);
    outcome::OutcomeRecord rec;
    OutcomeRecordOf(seg_, p.slot, state, h->attempt.load(std::memory_order_relaxed),
                    std::move(p.text), now_.unix_ns, &rec);
    // Refused only if a slot was scribbled on (an id or priority no producer writes).
    added += config_.outcomes->Add(rec) ? 1 : 0;
  }
  if (added == 0) return;
  Status s = config_.outcomes->Flush();
  if (!s.ok()) {
    // Kept in the store's buffer for the next Flush; the WAL has them meanwhile.
    if (!outcome_flush_failed_) {
      LogEvent("cannot write the outcome store: %s; results are kept in the WAL until it works",
               s.ToString().c_str());
    }
    outcome_flush_failed_ = true;
  } else {
    outcome_flush_failed_ = false;
  }
}

bool Engine::ReleaseClient(uint32_t client, uint64_t owner, bool died) {
  segment::ClientEntry* e = seg_.client(client);
  // Records the client published before it went are valid: log and apply them first.
  while (DrainLane(client)) {
  }
  Status s = Commit();
  if (!s.ok()) return false;  // storage fault: retried later
  Apply();
  uint32_t requeued = 0, dropped = 0;
  if (handoff_.OfferIfUnclaimed(e->popping.load(std::memory_order_acquire))) ++dropped;
  router_.ReleaseWorker(client);
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    const uint64_t w = seg_.slot(i)->word.load(std::memory_order_acquire);
    if (segment::SlotOwner(w) != client) continue;
    const SlotState state = segment::SlotStateOf(w);
    if (state == SlotState::kWriting || state == SlotState::kSubmitted) {
      // Never reached the WAL, so never accepted: dropping it is correct. Its status entry
      // (written before SUBMITTED) no longer holds a live job, so producers may draw its id.
      if (state == SlotState::kSubmitted) {
        SetJobStatus(seg_.slot(i)->job_id, JobStateCode::kUnknown, 0);
      }
      handoff_.FreeSlot(i);
      ++dropped;
    } else if (segment::IsLeased(state)) {
      leases_.End(i);
      ReclaimRun(i, segment::SlotGen(w), "the worker process died while running it");
      ++requeued;
    }
  }
  if (died || requeued != 0) {
    LogEvent(
        "client %u (pid %d) %s; %u job(s) it held handed out again or dead-lettered, %u "
        "unaccepted dropped",
        client, segment::OwnerPid(owner), died ? "died" : "closed", requeued, dropped);
  }
  e->head.store(0, std::memory_order_relaxed);
  e->tail.store(0, std::memory_order_relaxed);
  e->committed.store(0, std::memory_order_relaxed);
  e->role.store(0, std::memory_order_relaxed);
  e->popping.store(0, std::memory_order_relaxed);
  clients_.Forget(client);
  e->owner.store(0, std::memory_order_release);
  seg_.header()->clients_epoch.fetch_add(1, std::memory_order_release);
  return true;
}

void Engine::ReclaimRun(uint32_t slot, uint32_t gen, std::string why) {
  segment::SlotHeader* h = seg_.slot(slot);
  // Daemon-held (DELAYED) until the record is logged, so nobody can take or finish it meanwhile.
  h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kDelayed),
                std::memory_order_release);
  wal::WalRecord r;
  r.job_id = h->job_id;
  r.attempt = h->attempt.load(std::memory_order_relaxed);
  r.event_unix_ns = now_.unix_ns;
  if (seg_.extra(slot)->cancel.load(std::memory_order_relaxed) != 0) {
    r.type = wal::RecordType::kCancel;  // asked to stop, and it did (or died): not run again
    r.text = why;
    pending_.push_back({Action::kCancel, slot, JobStateCode::kCancelled, std::move(why)});
  } else if (r.attempt >= h->max_attempts &&
             KeepDeadLetter(slot, r.attempt, deadletter::DeadReason::kLost)) {
    r.type = wal::RecordType::kDead;
    r.text = why;
    pending_.push_back({Action::kFree, slot, JobStateCode::kDead, std::move(why)});
  } else {
    r.type = wal::RecordType::kRetry;
    r.text = why;
    pending_.push_back({Action::kRedeliver, slot, JobStateCode::kQueued, std::move(why)});
  }
  AddRecord(r);
}

bool Engine::KeepDeadLetter(uint32_t slot, uint32_t attempts, deadletter::DeadReason reason) {
  deadletter::DeadLetter letter;
  return DeadLetterOf(seg_, slot, attempts, reason, now_.unix_ns, &letter) &&
         dead_letters_.Keep(letter);
}

void Engine::Schedule(uint32_t slot, uint32_t gen) {
  segment::SlotHeader* h = seg_.slot(slot);
  const uint32_t attempt = h->attempt.load(std::memory_order_relaxed);
  const uint64_t not_before = h->not_before_unix_ns;
  if (not_before != 0 && not_before > now_.unix_ns) {
    SetJobStatus(h->job_id, JobStateCode::kDelayed, attempt);
    h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kDelayed),
                  std::memory_order_release);
    delayed_.Push({not_before, slot, gen});
    return;
  }
  SetJobStatus(h->job_id, JobStateCode::kQueued, attempt);
  h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kQueued),
                std::memory_order_release);
  router_.Ready(segment::PackSlotRef(slot, gen));
}

void Engine::ReleaseDueJobs() {
  DelayQueue::Entry e;
  while (delayed_.PopDue(now_.unix_ns, &e)) {
    segment::SlotHeader* h = seg_.slot(e.slot);
    if (h->word.load(std::memory_order_acquire) !=
        PackSlotWord(e.gen, segment::kNoClient, SlotState::kDelayed)) {
      continue;
    }
    h->not_before_unix_ns = 0;
    Schedule(e.slot, e.gen);
  }
}

void Engine::ExpireLeases() {
  leases_.ExpireDue(now_.mono_ns, [&](uint32_t slot, const LeaseTable::Holder& lease,
                                      bool timed_out) {
    segment::SlotHeader* h = seg_.slot(slot);
    uint64_t expected = PackSlotWord(lease.gen, lease.client, SlotState::kRunning);
    // Fails if the worker fenced its lease for an outcome first: that record is on its way.
    if (!h->word.compare_exchange_strong(
            expected, PackSlotWord(lease.gen, segment::kNoClient, SlotState::kDelayed),
            std::memory_order_acq_rel)) {
      return;
    }
    if (timed_out) {
      seg_.Add(segment::Counter::kTimeouts);
      LogEvent("job %llu attempt %u timed out after %u ms (client %u); its run is revoked",
               static_cast<unsigned long long>(h->job_id), lease.attempt, h->timeout_ms,
               lease.client);
    } else {
      seg_.Add(segment::Counter::kLeasesExpired);
      LogEvent("lease of job %llu attempt %u expired (client %u, no heartbeat for %u ms)",
               static_cast<unsigned long long>(h->job_id), lease.attempt, lease.client,
               config_.lease_ms);
    }
    ReclaimRun(slot, lease.gen,
               timed_out ? "timed out after " + std::to_string(h->timeout_ms) + " ms"
                         : "lease expired: no heartbeat for " + std::to_string(config_.lease_ms) +
                               " ms (worker stopped, stuck or too slow)");
  });
}

void Engine::RelogOldestSegment() {
  const uint64_t oldest = retention_.SegmentToRelog(wal_->current_segment(), now_.mono_ns);
  if (oldest == 0) return;
  uint64_t relogged = 0;
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    if (retention_.pinned_by(i) != oldest) continue;
    const segment::SlotHeader* h = seg_.slot(i);
    if (!segment::IsLive(segment::SlotStateOf(h->word.load(std::memory_order_acquire)))) continue;
    // Attempts so far; a queued job already counts its next dispatch, so after a crash it may
    // be shown one attempt higher than it ran: conservative for max_attempts.
    wal::WalRecord r;
    if (!EnqueueRecordOf(seg_, i, h->attempt.load(std::memory_order_relaxed), &r)) continue;
    AddRecord(r);
    retention_.Pin(i, wal_->tail_segment());
    ++relogged;
  }
  if (relogged != 0) {
    enqueues_unsynced_ = true;  // synced before the old segment may go (CollectSegments)
    LogEvent("WAL: re-logged %llu live job(s) out of segment %llu so it can be deleted",
             static_cast<unsigned long long>(relogged), static_cast<unsigned long long>(oldest));
  }
}

void Engine::CollectSegments() {
  if (!retention_.CollectionDue(wal_->current_segment(), now_.mono_ns)) return;
  // Everything that made those segments unnecessary (re-logged jobs, terminal records) must be
  // on disk before they go, or a host crash could lose a job that was only in them.
  if (wal_->buffered_bytes() != 0 || enqueues_unsynced_ || wal_dirty_) {
    if (!Commit().ok() || !wal_->Sync().ok()) return;
    enqueues_unsynced_ = false;
    wal_dirty_ = false;
  }
  // Idempotency keys outlive the segments that logged them: into the key file first.
  if (!PersistKeys()) return;
  retention_.DeleteBefore(retention_.oldest() + retention_.Deletable(wal_->current_segment()),
                          now_.mono_ns);
}

Status Engine::Checkpoint() {
  if (config_.wal_dir.empty()) return Status::IOError("no WAL directory to reopen");
  (void)SettleSync();  // a failure puts its group back in pending_, re-logged below
  // The DEAD records below let their jobs' ENQUEUE records go: their letters first.
  Status d = dead_letters_.Sync(now_.mono_ns);
  if (!d.ok()) return d;
  std::unique_ptr<wal::WalWriter> fresh;
  Status s = wal::WalWriter::Open(config_.wal_dir, config_.wal_options, wal_->next_lsn(), &fresh);
  if (!s.ok()) return s;
  const uint64_t first_new = fresh->current_segment();  // before a rotation can move it
  // Slots whose ENQUEUE was drained but not yet durable: published once this succeeds.
  std::vector<uint8_t> publishing(seg_.params().capacity, 0);
  for (const Pending& p : pending_) publishing[p.slot] |= p.action == Action::kPublish;
  std::vector<std::pair<uint32_t, uint64_t>> relogged;  // slot, segment of its new record
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    const segment::SlotHeader* h = seg_.slot(i);
    const SlotState state = segment::SlotStateOf(h->word.load(std::memory_order_acquire));
    const bool live = segment::IsLive(state) || (state == SlotState::kSubmitted && publishing[i]);
    wal::WalRecord r;
    if (!live || !EnqueueRecordOf(seg_, i, h->attempt.load(std::memory_order_relaxed), &r)) {
      continue;
    }
    fresh->Add(r);
    relogged.emplace_back(i, fresh->tail_segment());
  }
  // Outcomes decided but not yet applied: their records were in the suspect writer.
  for (const Pending& p : pending_) {
    if (p.action == Action::kPublish) continue;
    segment::SlotHeader* h = seg_.slot(p.slot);
    wal::WalRecord r;
    r.job_id = h->job_id;
    r.attempt = h->attempt.load(std::memory_order_relaxed);
    r.type = p.action == Action::kCancel           ? wal::RecordType::kCancel
             : p.action != Action::kFree           ? wal::RecordType::kRetry
             : p.state == JobStateCode::kCompleted ? wal::RecordType::kComplete
                                                   : wal::RecordType::kDead;
    r.not_before_unix_ns = r.type == wal::RecordType::kRetry ? h->not_before_unix_ns : 0;
    r.event_unix_ns = now_.unix_ns;
    r.text = p.text;
    fresh->Add(r);
  }
  s = fresh->Flush();
  if (s.ok()) s = fresh->Sync();
  if (!s.ok()) {
    const uint64_t last_new = fresh->current_segment();
    fresh.reset();
    // Never leave a suspect file for a later segment to bury in the middle of the log.
    for (uint64_t n = first_new; n <= last_new; ++n) {
      (void)config_.wal_options.env->RemoveFile(wal::SegmentPath(config_.wal_dir, n));
    }
    return s;
  }
  retention_.UnpinAll();
  for (const auto& [slot, segment] : relogged) retention_.Pin(slot, segment);
  wal_ = std::move(fresh);
  enqueues_unsynced_ = false;
  wal_dirty_ = false;
  // The old segments may go only once their keys are safe; until then they stay on disk, and
  // a later collection deletes them.
  if (PersistKeys()) retention_.DeleteBefore(first_new, now_.mono_ns);
  seg_.Add(segment::Counter::kWalFsyncs);
  LogEvent(
      "WAL: fdatasync had failed; continued in segment %llu with %zu live job(s) re-logged "
      "and the older segments removed",
      static_cast<unsigned long long>(first_new), relogged.size());
  return Status::OK();
}

uint64_t Engine::CountLeasedSlots() const {
  uint64_t n = 0;
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    n +=
        segment::IsLeased(segment::SlotStateOf(seg_.slot(i)->word.load(std::memory_order_acquire)));
  }
  return n;
}

bool Engine::PersistKeys() {
  if (config_.outcomes != nullptr) {
    // The WAL's COMPLETE/DEAD records are the outcomes' durable copy until the store is synced.
    Status o = config_.outcomes->Flush();
    if (o.ok()) o = config_.outcomes->Sync();
    if (!o.ok()) {
      LogEvent("cannot sync the outcome store: %s; WAL segments are kept until it works",
               o.ToString().c_str());
      return false;
    }
  }
  if (config_.dedup == nullptr || !config_.dedup->dirty()) return true;
  Status s = config_.dedup->Persist();
  if (!s.ok()) {
    LogEvent("cannot write the idempotency keys: %s; WAL segments are kept until it works",
             s.ToString().c_str());
    return false;
  }
  return true;
}

void Engine::SetDaemonState(segment::DaemonState state) {
  seg_.header()->daemon_state.store(static_cast<uint32_t>(state), std::memory_order_release);
}

void Engine::Observe(segment::Histogram h, uint64_t ns) {
  metrics::Record(&seg_.header()->histograms[static_cast<uint32_t>(h)], ns);
}

uint64_t Engine::SinceUnixNs(uint64_t stamp) const {
  return stamp != 0 && stamp < now_.unix_ns ? now_.unix_ns - stamp : 0;
}

Status Engine::SyncWal() {
  Status settled = SettleSync();
  if (!settled.ok()) return settled;
  const uint64_t start = util::NowMonoNs();
  Status s = wal_->Sync();
  now_ = util::Now::Read();
  if (s.ok()) Observe(segment::Histogram::kWalFsync, now_.mono_ns - start);
  return s;
}

void Engine::PublishGauges() {
  segment::SegmentHeader* hdr = seg_.header();
  hdr->outstanding.store(outstanding_, std::memory_order_relaxed);
  hdr->dead_letters.store(dead_letters_.count(), std::memory_order_relaxed);
  hdr->waiting_undeclared.store(router_.waiting_undeclared(), std::memory_order_relaxed);
  if (config_.dedup != nullptr && config_.dedup->evicted() != dedup_evicted_) {
    seg_.Add(segment::Counter::kDedupEvicted, config_.dedup->evicted() - dedup_evicted_);
    dedup_evicted_ = config_.dedup->evicted();
  }
  if (config_.outcomes != nullptr) {
    const OutcomeStore& o = *config_.outcomes;
    hdr->outcome_bytes.store(o.bytes(), std::memory_order_relaxed);
    hdr->outcome_records.store(o.records(), std::memory_order_relaxed);
    // Only what changed: each Add is an atomic write to a line every client reads.
    auto add = [&](segment::Counter c, uint64_t now, uint64_t* published) {
      if (now == *published) return;
      seg_.Add(c, now - *published);
      *published = now;
    };
    add(segment::Counter::kOutcomesStored, o.stored(), &outcomes_stored_);
    add(segment::Counter::kOutcomesEvicted, o.evicted(), &outcomes_evicted_);
    add(segment::Counter::kOutcomesExpired, o.expired(), &outcomes_expired_);
  }
}

bool Engine::Step() {
  now_ = util::Now::Read();
  if (!refusing_ && clients_.TakeRescanRequest()) clients_.Rescan();
  ProcessCommands();
  clients_.Refresh([&](uint32_t client, uint64_t owner) {
    return ReleaseClient(client, owner, /*died=*/false);
  });
  bool did = false;
  for (uint32_t c : clients_.active()) did |= DrainLane(c);
  const bool pipelined_step = pipelined();
  if (pipelined_step || !pending_.empty() || clients_.AnyDrained() || wal_->buffered_bytes() != 0) {
    Status s = pipelined_step ? PipelinedCommit(&did) : Commit();
    bool apply = !pipelined_step;  // the pipelined commit applies its groups itself
    if (!s.ok() && wal_->sync_failed()) {
      const Status c = Checkpoint();
      if (c.ok()) s = Commit();
      apply = true;
    }
    if (!s.ok()) {
      if (!refusing_) {
        LogEvent("WAL write failed: %s; refusing new jobs until it succeeds", s.ToString().c_str());
        refusing_ = true;
        if (!stopping_) SetDaemonState(segment::DaemonState::kRefusing);
      }
      return false;  // the engine idles (and retries) instead of spinning on the error
    }
    if (apply) {
      EndRefusal();
      Apply();
      did = true;
    }
  }
  if (wal_dirty_ && !syncer_.busy() && config_.durability != segment::Durability::kNone &&
      now_.mono_ns - last_sync_mono_ns_ >= config_.interval_ms * kMsNs) {
    if (SyncWal().ok()) {
      seg_.Add(segment::Counter::kWalFsyncs);
      wal_dirty_ = false;
    }
    last_sync_mono_ns_ = now_.mono_ns;
  }
  handoff_.FlushFree();
  RelogOldestSegment();
  CollectSegments();
  ExpireLeases();
  ReleaseDueJobs();
  if (config_.dedup != nullptr) config_.dedup->Expire(now_.unix_ns);
  if (config_.outcomes != nullptr && now_.mono_ns >= next_outcome_expiry_mono_ns_) {
    config_.outcomes->Expire(now_.unix_ns);
    next_outcome_expiry_mono_ns_ = now_.mono_ns + 1000 * kMsNs;
  }
  dead_letters_.Refresh(now_.mono_ns, /*force=*/false);
  if (!stopping_) router_.Dispatch(now_.mono_ns);  // one handed out now could not finish
  router_.WakeWorkers();
  PublishGauges();
  return did;
}

Status Engine::Run(const std::atomic<bool>& stop) {
  segment::SegmentHeader* hdr = seg_.header();
  auto idle = [&](uint64_t timeout_ns) {
    util::SpinThenWait(&hdr->doorbell, &hdr->daemon_sleeping, refusing_ ? 0 : kIdleSpins,
                       timeout_ns, [&] { return clients_.AnyPending() || syncer_.finished(); });
  };
  while (!stop.load(std::memory_order_relaxed)) {
    if (!Step()) idle(refusing_ ? 100 * kMsNs : 20 * kMsNs);
  }
  stopping_ = true;
  SetDaemonState(segment::DaemonState::kStopping);
  LogEvent("stopping: no new jobs; waiting up to %u ms for running jobs",
           config_.shutdown_grace_ms);
  const uint64_t deadline = util::Now::Read().mono_ns + config_.shutdown_grace_ms * kMsNs;
  uint64_t leased = 0;
  for (;;) {
    Step();
    leased = CountLeasedSlots();
    if ((leased == 0 && !clients_.AnyPending()) || now_.mono_ns >= deadline) break;
    idle(10 * kMsNs);
  }
  Step();
  Status s = Commit();
  if (s.ok() && config_.durability != segment::Durability::kFsync) s = wal_->Sync();
  SetDaemonState(segment::DaemonState::kStopped);
  LogEvent("stopped: %llu unfinished job(s) stay in the WAL for the next start%s",
           static_cast<unsigned long long>(outstanding_),
           leased != 0 ? " (some were still running: they will run again)" : "");
  return s;
}

}  // namespace taskring::daemon
