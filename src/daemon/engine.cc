#include "daemon/engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "daemon/log.h"
#include "metrics/histogram.h"
#include "util/clock.h"
#include "util/futex.h"
#include "wal/wal_segment.h"

namespace taskring::daemon {

using segment::ClientState;
using segment::JobStateCode;
using segment::LaneOp;
using segment::PackSlotWord;
using segment::SlotState;

namespace {
constexpr uint64_t kMsNs = 1'000'000;
constexpr uint64_t kLaneBudget = 4096;  // records per lane per iteration: keeps lanes fair
constexpr int kIdleSpins = 4000;
}  // namespace

Engine::Engine(segment::Segment& seg, std::unique_ptr<wal::WalWriter> wal,
               const EngineConfig& config)
    : seg_(seg),
      wal_(std::move(wal)),
      config_(config),
      lane_consumed_(seg.params().max_clients, 0),
      touched_flag_(seg.params().max_clients, 0),
      job_segment_(seg.params().capacity, 0),
      leases_(seg.params().capacity) {
  std::vector<wal::SegmentFile> files;
  if (!config_.wal_dir.empty() && wal::ListSegments(config_.wal_dir, &files).ok() &&
      !files.empty()) {
    oldest_segment_ = files.front().number;
  } else {
    oldest_segment_ = wal_->current_segment();
  }
}

Status Engine::Load(std::vector<RecoveredJob>& jobs, uint64_t max_job_id) {
  Tick();
  const auto& p = seg_.params();
  if (jobs.size() > p.capacity) {
    return Status::InvalidArgument("the WAL holds " + std::to_string(jobs.size()) +
                                   " unfinished jobs but --capacity is " +
                                   std::to_string(p.capacity) + "; start with a larger capacity");
  }
  uint32_t slot = 0;
  for (RecoveredJob& j : jobs) {
    if (j.payload.size() > p.max_payload) {
      return Status::InvalidArgument(
          "the WAL holds job " + std::to_string(j.id) + " of " + std::to_string(j.payload.size()) +
          " bytes, more than --max-payload " + std::to_string(p.max_payload));
    }
    segment::SlotHeader* h = seg_.slot(slot);
    h->job_id = j.id;
    h->enqueued_unix_ns = j.enqueued_unix_ns;
    h->started_unix_ns = 0;
    h->payload_len = static_cast<uint32_t>(j.payload.size());
    h->attempt.store(j.attempts_made, std::memory_order_relaxed);
    h->max_attempts = j.max_attempts != 0 ? j.max_attempts : seg_.header()->default_max_attempts;
    h->priority = 0;
    h->not_before_unix_ns = j.not_before_unix_ns;
    std::memcpy(seg_.payload(slot), j.payload.data(), j.payload.size());
    Pin(slot, j.wal_segment);
    Schedule(slot, 1);
    if (j.was_running) seg_.Add(segment::Counter::kRedelivered);
    ++slot;
  }
  outstanding_ = jobs.size();
  for (uint32_t s = slot; s < p.capacity; ++s) {
    if (!seg_.free_ring().TryPush(segment::PackSlotRef(s, 1))) {
      return Status::Corruption("free ring is smaller than the capacity");
    }
  }
  seg_.header()->next_job_id.store(max_job_id + 1, std::memory_order_release);
  RefreshDeadLetters(/*force=*/true);
  PublishGauges();
  return Status::OK();
}

void Engine::SetJobStatus(uint64_t id, JobStateCode state, uint32_t attempt) {
  segment::StatusEntry* e = seg_.status_entry(id);
  e->updated_unix_ns.store(now_unix_ns_, std::memory_order_relaxed);
  e->packed.store(segment::PackStatus(id, state, attempt), std::memory_order_release);
}

void Engine::RefreshClients() {
  const uint32_t epoch = seg_.header()->clients_epoch.load(std::memory_order_acquire);
  if (epoch == seen_epoch_) return;
  seen_epoch_ = epoch;
  active_clients_.clear();
  for (uint32_t i = 0; i < seg_.params().max_clients; ++i) {
    const uint64_t owner = seg_.client(i)->owner.load(std::memory_order_acquire);
    if (owner == 0) continue;
    if (segment::OwnerState(owner) == ClientState::kClosing) {
      // On a storage fault the entry stays closing; rescan later (not at once: that would spin).
      if (!ReleaseClient(i, owner, /*died=*/false)) rescan_clients_ = true;
      continue;
    }
    active_clients_.push_back(i);
  }
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
  for (uint64_t pos = head; pos < end; ++pos) Handle(client, lane.Read(pos));
  lane.Consume(end);
  lane_consumed_[client] = end;
  if (!touched_flag_[client]) {
    touched_flag_[client] = 1;
    touched_clients_.push_back(client);
  }
  return true;
}

void Engine::Handle(uint32_t client, const segment::LaneRecord& rec) {
  if (!seg_.ValidSlot(rec.slot)) {
    LogEvent("client %u: record names slot %u beyond capacity; ignored", client, rec.slot);
    return;
  }
  segment::SlotHeader* h = seg_.slot(rec.slot);
  const uint64_t word = h->word.load(std::memory_order_acquire);
  auto expect = [&](SlotState s) { return word == PackSlotWord(rec.slot_gen, client, s); };
  wal::WalRecord r;
  switch (static_cast<LaneOp>(rec.op)) {
    case LaneOp::kEnqueue: {
      if (!expect(SlotState::kSubmitted)) {
        LogEvent("client %u: enqueue of slot %u in an unexpected state; ignored", client, rec.slot);
        return;
      }
      const uint32_t len = h->payload_len;  // read once: the client could change it meanwhile
      if (len > seg_.params().max_payload) {
        LogEvent("client %u: slot %u claims %u payload bytes; dropped", client, rec.slot, len);
        FreeSlot(rec.slot);
        return;
      }
      r.type = wal::RecordType::kEnqueue;
      r.job_id = h->job_id;
      r.max_attempts = h->max_attempts;
      r.enqueued_unix_ns = h->enqueued_unix_ns;
      r.not_before_unix_ns = h->not_before_unix_ns;
      r.payload.assign(seg_.payload(rec.slot), len);
      wal_->Add(r);
      seg_.Add(segment::Counter::kWalRecords);
      Pin(rec.slot, wal_->tail_segment());
      enqueues_unsynced_ = true;
      pending_.push_back({Action::kPublish, rec.slot});
      return;
    }
    case LaneOp::kStart:
    case LaneOp::kTouch: {
      const bool first_start = static_cast<LaneOp>(rec.op) == LaneOp::kStart && rec.attempt == 1 &&
                               h->attempt.load(std::memory_order_relaxed) == 1;
      if (first_start && (expect(SlotState::kRunning) || expect(SlotState::kCompleting) ||
                          expect(SlotState::kFailing))) {
        // Even when a fast job's outcome overtook this record: wait = accepted -> first start.
        const uint64_t started = h->started_unix_ns, enqueued = h->enqueued_unix_ns;
        Observe(segment::Histogram::kJobWait, started > enqueued ? started - enqueued : 0);
      }
      // A lease lives only as long as this daemon: after a restart every job that was running
      // is handed out again.
      if (!expect(SlotState::kRunning) ||
          h->attempt.load(std::memory_order_relaxed) != rec.attempt) {
        return;  // the lease already ended (expired, or the outcome overtook the heartbeat)
      }
      const uint64_t deadline = now_mono_ns_ + uint64_t{config_.lease_ms} * kMsNs;
      LeaseTable::Lease* lease = leases_.Find(rec.slot, rec.slot_gen, client, rec.attempt);
      if (lease != nullptr) {
        lease->deadline_mono_ns = deadline;
        return;
      }
      leases_.Start(rec.slot, {deadline, rec.slot_gen, client, rec.attempt});
      // No sync forced: if the daemon dies first, the job is handed out again anyway; this
      // only lets the next daemon count that run as an attempt.
      r.type = wal::RecordType::kStart;
      r.job_id = h->job_id;
      r.attempt = rec.attempt;
      wal_->Add(r);
      seg_.Add(segment::Counter::kWalRecords);
      return;
    }
    case LaneOp::kComplete:
    case LaneOp::kFail: {
      const bool complete = static_cast<LaneOp>(rec.op) == LaneOp::kComplete;
      if (!expect(complete ? SlotState::kCompleting : SlotState::kFailing) ||
          h->attempt.load(std::memory_order_relaxed) != rec.attempt) {
        seg_.Add(segment::Counter::kStaleAcks);
        return;
      }
      leases_.End(rec.slot);
      Observe(segment::Histogram::kJobRun, SinceUnixNs(h->started_unix_ns));
      r.job_id = h->job_id;
      r.attempt = rec.attempt;
      if (complete) {
        r.type = wal::RecordType::kComplete;
        pending_.push_back({Action::kFree, rec.slot, JobStateCode::kCompleted});
      } else if (rec.attempt >= h->max_attempts &&
                 KeepDeadLetter(rec.slot, rec.attempt, wal::DeadReason::kFailed)) {
        r.type = wal::RecordType::kDead;
        pending_.push_back({Action::kFree, rec.slot, JobStateCode::kDead});
      } else {
        r.type = wal::RecordType::kRetry;
        r.not_before_unix_ns = util::NowUnixNs() + RetryDelayNs(rec.attempt);
        h->not_before_unix_ns = r.not_before_unix_ns;  // the slot is the daemon's until requeued
        pending_.push_back({Action::kRequeue, rec.slot, JobStateCode::kFailedRetrying});
      }
      wal_->Add(r);
      seg_.Add(segment::Counter::kWalRecords);
      return;
    }
  }
  LogEvent("client %u: unknown lane op %u; ignored", client, rec.op);
}

Status Engine::Commit() {
  const bool must_sync = config_.durability == segment::Durability::kFsync && enqueues_unsynced_;
  // A sync that failed earlier must be retried (and keeps failing while the writer's error is
  // sticky) before anyone is told Accepted: never return early with enqueues unsynced.
  if (wal_->buffered_bytes() == 0 && !must_sync) return Status::OK();
  // A DEAD record lets the job's ENQUEUE go, so its dead letter must be durable first.
  if (dead_unsynced_) {
    Status d = config_.dead_letters->SyncDir();
    if (!d.ok()) return d;
    dead_unsynced_ = false;
    if (dead_count_ > config_.dead_max) RefreshDeadLetters(/*force=*/true);
  }
  const uint64_t before = wal_->bytes_written();
  Status s = wal_->Flush();
  if (!s.ok()) return s;
  seg_.Add(segment::Counter::kWalBytes, wal_->bytes_written() - before);
  // Only enqueues make a producer wait for the disk. Completions, retries and dead letters
  // reach the disk with the next sync (at most interval_ms later): losing one to a host crash
  // means the job runs again, which at-least-once allows.
  if (must_sync) {
    s = SyncWal();
    if (!s.ok()) return s;  // still unsynced: no producer is told Accepted
    enqueues_unsynced_ = false;
    wal_dirty_ = false;
    seg_.Add(segment::Counter::kWalFsyncs);
    last_sync_mono_ns_ = util::NowMonoNs();
  } else {
    wal_dirty_ = true;
  }
  // Releasing a departed client commits too, and may be the first commit to get through: it must
  // end the refusal as well, or nothing would (no producer is admitted to make a step commit).
  EndRefusal();
  return Status::OK();
}

void Engine::EndRefusal() {
  if (!refusing_) return;
  LogEvent("WAL writes succeed again; admitting new jobs");
  refusing_ = false;
  if (!stopping_) SetDaemonState(segment::DaemonState::kRunning);
}

void Engine::FreeSlot(uint32_t slot) {
  segment::SlotHeader* h = seg_.slot(slot);
  const uint32_t gen = segment::SlotGen(h->word.load(std::memory_order_relaxed)) + 1;
  h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kFree), std::memory_order_release);
  free_backlog_.push_back(segment::PackSlotRef(slot, gen));
  FlushFreeBacklog();
}

void Engine::FlushFreeBacklog() {
  // A push can fail although the ring has room for every slot: a producer preempted between
  // moving `head` and releasing its cell still holds the cell the push needs. Keep the slot and
  // retry every iteration rather than lose a place in the queue.
  segment::RingView ring = seg_.free_ring();
  while (!free_backlog_.empty() && ring.TryPush(free_backlog_.front())) free_backlog_.pop_front();
  if (free_backlog_.empty()) return;
  // The free ring holds at most every slot once, so a push that keeps failing means a producer
  // claimed the tail cell and never released it. Past the repair timeout, release it for them.
  if (!RepairDue(ring, &free_watch_)) return;
  uint64_t taken = 0;
  if (!ring.RepairStuckTail(&taken)) return;
  const uint32_t slot = segment::RefSlot(taken);
  const bool unclaimed =
      seg_.ValidSlot(slot) &&
      seg_.slot(slot)->word.load(std::memory_order_acquire) ==
          PackSlotWord(segment::RefGen(taken), segment::kNoClient, SlotState::kFree);
  // If the producer died before claiming its slot, the slot is still free: offer it again.
  if (unclaimed) free_backlog_.push_back(taken);
  LogEvent("repaired a free-ring cell left claimed by a producer that stopped mid-operation%s",
           unclaimed ? "; its slot is free again" : "");
  FlushFreeBacklog();
}

bool Engine::RepairDue(segment::RingView ring, StuckWatch* watch) {
  uint64_t pos = 0;
  if (!ring.TailClaimedButUnreleased(&pos)) {
    watch->pos = UINT64_MAX;
    return false;
  }
  const uint64_t now = util::NowMonoNs();
  if (watch->pos != pos) {
    watch->pos = pos;
    watch->since_mono_ns = now;
    return false;
  }
  if (now - watch->since_mono_ns < uint64_t{config_.repair_ms} * kMsNs) return false;
  watch->pos = UINT64_MAX;
  return true;
}

void Engine::Apply() {
  for (const Pending& p : pending_) {
    segment::SlotHeader* h = seg_.slot(p.slot);
    const uint32_t gen = segment::SlotGen(h->word.load(std::memory_order_relaxed));
    switch (p.action) {
      case Action::kPublish:
        ++outstanding_;
        seg_.Add(segment::Counter::kAccepted);
        Schedule(p.slot, gen);
        break;
      case Action::kFree:
        --outstanding_;
        seg_.Add(p.state == JobStateCode::kCompleted ? segment::Counter::kCompleted
                                                     : segment::Counter::kDead);
        if (p.state == JobStateCode::kDead) seg_.Add(segment::Counter::kFailed);
        SetJobStatus(h->job_id, p.state, h->attempt.load(std::memory_order_relaxed));
        Observe(segment::Histogram::kJobLatency, SinceUnixNs(h->enqueued_unix_ns));
        Unpin(p.slot);
        FreeSlot(p.slot);
        break;
      case Action::kRedeliver:
        seg_.Add(segment::Counter::kRedelivered);
        h->not_before_unix_ns = 0;
        Schedule(p.slot, gen);
        break;
      case Action::kRequeue:
        seg_.Add(segment::Counter::kFailed);
        seg_.Add(segment::Counter::kRetried);
        Schedule(p.slot, gen);
        break;
    }
  }
  pending_.clear();
  for (uint32_t c : touched_clients_) {
    segment::ClientEntry* e = seg_.client(c);
    e->committed.store(lane_consumed_[c], std::memory_order_release);
    util::WakeIfSleepers(&e->commit_futex, &e->commit_waiters, INT_MAX);
    touched_flag_[c] = 0;
  }
  touched_clients_.clear();
}

void Engine::Dispatch() {
  segment::RingView ring = seg_.dispatch_ring();
  uint32_t pushed = 0;
  while (!ready_.empty()) {
    const uint64_t ref = ready_.front();
    segment::SlotHeader* h = seg_.slot(segment::RefSlot(ref));
    if (h->word.load(std::memory_order_acquire) !=
        PackSlotWord(segment::RefGen(ref), segment::kNoClient, SlotState::kQueued)) {
      ready_.pop_front();  // taken meanwhile (a repaired cell's consumer woke up): stale
      continue;
    }
    h->attempt.fetch_add(1, std::memory_order_relaxed);
    if (!ring.TryPush(ref)) {
      h->attempt.fetch_sub(1, std::memory_order_relaxed);
      break;
    }
    ready_.pop_front();
    ++pushed;
  }
  if (!ready_.empty() && RepairDue(ring, &dispatch_watch_)) {
    // Full, or a worker claimed the tail cell and never released it (RepairStuckTail tells
    // the two apart). If it died before leasing the job, the job is still queued: hand it out.
    uint64_t taken = 0;
    if (ring.RepairStuckTail(&taken)) {
      const uint32_t slot = segment::RefSlot(taken);
      const bool unleased =
          seg_.ValidSlot(slot) &&
          seg_.slot(slot)->word.load(std::memory_order_acquire) ==
              PackSlotWord(segment::RefGen(taken), segment::kNoClient, SlotState::kQueued);
      // Its attempt was counted when it was first pushed and is counted again: the number
      // may skip one, which only errs towards dead-lettering sooner.
      if (unleased) ready_.push_back(taken);
      LogEvent(
          "repaired a dispatch-ring cell left claimed by a worker that stopped "
          "mid-operation%s",
          unleased ? "; its job is handed out again" : "");
    }
  }
  if (pushed != 0) {
    util::WakeIfSleepers(&ring.header()->futex, &ring.header()->sleepers,
                         pushed > INT_MAX ? INT_MAX : static_cast<int>(pushed));
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
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    segment::SlotHeader* h = seg_.slot(i);
    const uint64_t w = h->word.load(std::memory_order_acquire);
    if (segment::SlotOwner(w) != client) continue;
    const uint32_t gen = segment::SlotGen(w);
    switch (segment::SlotStateOf(w)) {
      case SlotState::kWriting:
      case SlotState::kSubmitted:
        // Never reached the WAL, so never accepted: dropping it is correct.
        FreeSlot(i);
        ++dropped;
        break;
      case SlotState::kRunning:
      case SlotState::kCompleting:
      case SlotState::kFailing:
        leases_.End(i);
        ReclaimRun(i, gen);
        ++requeued;
        break;
      default: break;
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
  lane_consumed_[client] = 0;
  e->owner.store(0, std::memory_order_release);
  seg_.header()->clients_epoch.fetch_add(1, std::memory_order_release);
  return true;
}

void Engine::ReclaimRun(uint32_t slot, uint32_t gen) {
  segment::SlotHeader* h = seg_.slot(slot);
  // Daemon-held (DELAYED) until the record is logged, so nobody can take or finish it meanwhile.
  h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kDelayed),
                std::memory_order_release);
  wal::WalRecord r;
  r.job_id = h->job_id;
  r.attempt = h->attempt.load(std::memory_order_relaxed);
  if (r.attempt >= h->max_attempts && KeepDeadLetter(slot, r.attempt, wal::DeadReason::kLost)) {
    r.type = wal::RecordType::kDead;
    pending_.push_back({Action::kFree, slot, JobStateCode::kDead});
  } else {
    r.type = wal::RecordType::kRetry;
    pending_.push_back({Action::kRedeliver, slot, JobStateCode::kQueued});
  }
  wal_->Add(r);
  seg_.Add(segment::Counter::kWalRecords);
}

bool Engine::KeepDeadLetter(uint32_t slot, uint32_t attempts, wal::DeadReason reason) {
  const segment::SlotHeader* h = seg_.slot(slot);
  const uint32_t len = h->payload_len;  // read once, then bounds-checked
  if (len > seg_.params().max_payload) return false;
  wal::DeadLetter letter;
  letter.job_id = h->job_id;
  letter.attempts = attempts;
  letter.max_attempts = h->max_attempts;
  letter.enqueued_unix_ns = h->enqueued_unix_ns;
  letter.dead_unix_ns = util::NowUnixNs();
  letter.reason = reason;
  letter.payload.assign(seg_.payload(slot), len);
  const Status s = config_.dead_letters->Write(letter);
  if (!s.ok()) {
    LogEvent("cannot keep dead letter of job %llu (%s); it will be retried instead",
             static_cast<unsigned long long>(letter.job_id), s.ToString().c_str());
    return false;
  }
  dead_unsynced_ = true;
  ++dead_count_;
  LogEvent("job %llu is dead after %u attempt(s) (%s); kept in %s",
           static_cast<unsigned long long>(letter.job_id), attempts, wal::DeadReasonName(reason),
           config_.dead_letters->dir().c_str());
  return true;
}

void Engine::RefreshDeadLetters(bool force) {
  const uint64_t now = util::NowMonoNs();
  if (!force && now - last_dead_refresh_ns_ < 5000 * kMsNs) return;
  last_dead_refresh_ns_ = now;
  std::vector<uint64_t> ids;
  if (!config_.dead_letters->List(&ids).ok()) return;
  uint64_t evicted = 0;
  // Oldest first: ids grow with time, and the newest failures are the ones worth a look.
  for (size_t i = 0; ids.size() - i > config_.dead_max; ++i) {
    evicted += config_.dead_letters->Remove(ids[i]).ok();
  }
  if (evicted != 0) {
    seg_.Add(segment::Counter::kDeadEvicted, evicted);
    LogEvent("removed the %llu oldest dead letter(s) to keep at most %llu (--dead-max)",
             static_cast<unsigned long long>(evicted),
             static_cast<unsigned long long>(config_.dead_max));
  }
  dead_count_ = ids.size() - evicted;
}

void Engine::Schedule(uint32_t slot, uint32_t gen) {
  segment::SlotHeader* h = seg_.slot(slot);
  const uint64_t attempt = h->attempt.load(std::memory_order_relaxed);
  const uint64_t not_before = h->not_before_unix_ns;
  if (not_before != 0 && not_before > now_unix_ns_) {
    SetJobStatus(h->job_id, JobStateCode::kDelayed, static_cast<uint32_t>(attempt));
    h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kDelayed),
                  std::memory_order_release);
    delayed_.Push({not_before, slot, gen});
    return;
  }
  SetJobStatus(h->job_id, JobStateCode::kQueued, static_cast<uint32_t>(attempt));
  h->word.store(PackSlotWord(gen, segment::kNoClient, SlotState::kQueued),
                std::memory_order_release);
  ready_.push_back(segment::PackSlotRef(slot, gen));
}

void Engine::ReleaseDueJobs() {
  DelayQueue::Entry e;
  const uint64_t now = util::NowUnixNs();
  while (delayed_.PopDue(now, &e)) {
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
  const uint64_t now = util::NowMonoNs();
  if (now - last_lease_scan_ns_ < 50 * kMsNs) return;
  last_lease_scan_ns_ = now;
  leases_.ExpireDue(now, [&](uint32_t slot, const LeaseTable::Lease& lease) {
    segment::SlotHeader* h = seg_.slot(slot);
    uint64_t expected = PackSlotWord(lease.gen, lease.client, SlotState::kRunning);
    // Fails if the worker fenced its lease for an outcome first: that record is on its way.
    if (!h->word.compare_exchange_strong(
            expected, PackSlotWord(lease.gen, segment::kNoClient, SlotState::kDelayed),
            std::memory_order_acq_rel)) {
      return;
    }
    seg_.Add(segment::Counter::kLeasesExpired);
    LogEvent("lease of job %llu attempt %u expired (client %u, no heartbeat for %u ms)",
             static_cast<unsigned long long>(h->job_id), lease.attempt, lease.client,
             config_.lease_ms);
    ReclaimRun(slot, lease.gen);
  });
}

uint64_t Engine::RetryDelayNs(uint32_t failed_attempt) {
  const uint32_t shift = failed_attempt > 1 ? std::min<uint32_t>(failed_attempt - 1, 30) : 0;
  const uint64_t ceiling_ms =
      std::min<uint64_t>(config_.max_backoff_ms, uint64_t{config_.retry_backoff_ms} << shift);
  // Equal jitter: at least half the ceiling, so retries back off for real, and spread over the
  // other half, so jobs that failed together do not come back together.
  const uint64_t half = ceiling_ms * kMsNs / 2;
  return half + (half != 0 ? rng_() % (half + 1) : 0);
}

void Engine::Pin(uint32_t slot, uint64_t segment) {
  Unpin(slot);
  job_segment_[slot] = segment;
  ++pins_[segment];
}

void Engine::Unpin(uint32_t slot) {
  const uint64_t segment = job_segment_[slot];
  if (segment == 0) return;
  job_segment_[slot] = 0;
  auto it = pins_.find(segment);
  if (it != pins_.end() && --it->second == 0) pins_.erase(it);
}

bool Engine::RelogRecord(uint32_t slot, wal::WalRecord* r) const {
  const segment::SlotHeader* h = seg_.slot(slot);
  const uint32_t len = h->payload_len;  // read once, then bounds-checked
  if (len > seg_.params().max_payload) return false;
  r->type = wal::RecordType::kEnqueue;
  r->job_id = h->job_id;
  // Attempts so far; a queued job already counts its next dispatch, so after a crash it may be
  // shown one attempt higher than it ran: conservative for max_attempts.
  r->attempt = h->attempt.load(std::memory_order_relaxed);
  r->max_attempts = h->max_attempts;
  r->enqueued_unix_ns = h->enqueued_unix_ns;
  r->not_before_unix_ns = h->not_before_unix_ns;
  r->payload.assign(seg_.payload(slot), len);
  return true;
}

void Engine::RelogOldestSegment() {
  // Only when the oldest segment is at least two rotations behind, and at most once a second:
  // finding its jobs is a scan of the slots.
  const uint64_t now = util::NowMonoNs();
  if (wal_->current_segment() < oldest_segment_ + 2 || now - last_relog_mono_ns_ < 1000 * kMsNs) {
    return;
  }
  auto it = pins_.find(oldest_segment_);
  if (it == pins_.end()) return;
  last_relog_mono_ns_ = now;
  uint64_t relogged = 0;
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    if (job_segment_[i] != oldest_segment_) continue;
    segment::SlotHeader* h = seg_.slot(i);
    const SlotState state = segment::SlotStateOf(h->word.load(std::memory_order_acquire));
    if (state == SlotState::kFree || state == SlotState::kWriting ||
        state == SlotState::kSubmitted) {
      continue;
    }
    wal::WalRecord r;
    if (!RelogRecord(i, &r)) continue;
    wal_->Add(r);
    seg_.Add(segment::Counter::kWalRecords);
    Pin(i, wal_->tail_segment());
    ++relogged;
  }
  if (relogged != 0) {
    enqueues_unsynced_ = true;  // synced before the old segment may go (CollectSegments)
    LogEvent("WAL: re-logged %llu live job(s) out of segment %llu so it can be deleted",
             static_cast<unsigned long long>(relogged),
             static_cast<unsigned long long>(oldest_segment_));
  }
}

void Engine::CollectSegments() {
  uint64_t deletable = 0;
  for (uint64_t s = oldest_segment_; s < wal_->current_segment() && !pins_.count(s); ++s) {
    ++deletable;
  }
  if (deletable == 0 || config_.wal_dir.empty()) return;
  // Everything that made those segments unnecessary (re-logged jobs, terminal records) must be
  // on disk before they go, or a host crash could lose a job that was only in them.
  if (wal_->buffered_bytes() != 0 || enqueues_unsynced_ || wal_dirty_) {
    if (!Commit().ok() || !wal_->Sync().ok()) return;
    enqueues_unsynced_ = false;
    wal_dirty_ = false;
  }
  DeleteSegmentsBefore(oldest_segment_ + deletable);
}

void Engine::DeleteSegmentsBefore(uint64_t segment) {
  for (; oldest_segment_ < segment; ++oldest_segment_) {
    const std::string path = wal::SegmentPath(config_.wal_dir, oldest_segment_);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      LogEvent("WAL: cannot delete %s: %s", path.c_str(), std::strerror(errno));
      return;
    }
  }
  // Make the deletions durable too: a segment that came back after a host crash could hold
  // records this WAL no longer expects.
  const int dir = ::open(config_.wal_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

Status Engine::Checkpoint() {
  if (config_.wal_dir.empty()) return Status::IOError("no WAL directory to reopen");
  std::unique_ptr<wal::WalWriter> fresh;
  Status s = wal::WalWriter::Open(config_.wal_dir, config_.wal_options, wal_->next_lsn(), &fresh);
  if (!s.ok()) return s;
  const uint64_t first_new = fresh->current_segment();  // before a rotation can move it
  // Slots whose ENQUEUE was drained but not yet durable: published once this succeeds.
  std::vector<uint8_t> publishing(seg_.params().capacity, 0);
  for (const Pending& p : pending_) publishing[p.slot] |= p.action == Action::kPublish;
  std::vector<std::pair<uint32_t, uint64_t>> relogged;  // slot, segment of its new record
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    segment::SlotHeader* h = seg_.slot(i);
    const SlotState state = segment::SlotStateOf(h->word.load(std::memory_order_acquire));
    const bool live = state == SlotState::kQueued || state == SlotState::kRunning ||
                      state == SlotState::kDelayed || state == SlotState::kCompleting ||
                      state == SlotState::kFailing ||
                      (state == SlotState::kSubmitted && publishing[i]);
    wal::WalRecord r;
    if (!live || !RelogRecord(i, &r)) continue;
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
    r.type = p.action != Action::kFree             ? wal::RecordType::kRetry
             : p.state == JobStateCode::kCompleted ? wal::RecordType::kComplete
                                                   : wal::RecordType::kDead;
    r.not_before_unix_ns = r.type == wal::RecordType::kRetry ? h->not_before_unix_ns : 0;
    fresh->Add(r);
  }
  s = fresh->Flush();
  if (s.ok()) s = fresh->Sync();
  if (!s.ok()) {
    const uint64_t last_new = fresh->current_segment();
    fresh.reset();
    // Never leave a suspect file for a later segment to bury in the middle of the log.
    for (uint64_t n = first_new; n <= last_new; ++n) {
      ::unlink(wal::SegmentPath(config_.wal_dir, n).c_str());
    }
    return s;
  }
  pins_.clear();
  std::fill(job_segment_.begin(), job_segment_.end(), 0);
  for (const auto& [slot, segment] : relogged) Pin(slot, segment);
  wal_ = std::move(fresh);
  enqueues_unsynced_ = false;
  wal_dirty_ = false;
  DeleteSegmentsBefore(first_new);
  seg_.Add(segment::Counter::kWalFsyncs);
  LogEvent(
      "WAL: fdatasync had failed; continued in segment %llu with %zu live job(s) re-logged "
      "and the older segments removed",
      static_cast<unsigned long long>(first_new), relogged.size());
  return Status::OK();
}

bool Engine::AnyLanePending() const {
  for (uint32_t c : active_clients_) {
    const segment::ClientEntry* e = seg_.client(c);
    if (e->tail.load(std::memory_order_acquire) != e->head.load(std::memory_order_relaxed)) {
      return true;
    }
  }
  return seg_.header()->clients_epoch.load(std::memory_order_acquire) != seen_epoch_;
}

uint64_t Engine::CountLeasedSlots() const {
  uint64_t n = 0;
  for (uint32_t i = 0; i < seg_.params().capacity; ++i) {
    const SlotState s = segment::SlotStateOf(seg_.slot(i)->word.load(std::memory_order_acquire));
    n += s == SlotState::kRunning || s == SlotState::kCompleting || s == SlotState::kFailing;
  }
  return n;
}

void Engine::SetDaemonState(segment::DaemonState state) {
  seg_.header()->daemon_state.store(static_cast<uint32_t>(state), std::memory_order_release);
}

void Engine::Observe(segment::Histogram h, uint64_t ns) {
  metrics::Record(&seg_.header()->histograms[static_cast<uint32_t>(h)], ns);
}

uint64_t Engine::SinceUnixNs(uint64_t stamp) const {
  return stamp != 0 && stamp < now_unix_ns_ ? now_unix_ns_ - stamp : 0;
}

void Engine::Tick() {
  now_unix_ns_ = util::NowUnixNs();
  now_mono_ns_ = util::NowMonoNs();
}

Status Engine::SyncWal() {
  const uint64_t start = util::NowMonoNs();
  Status s = wal_->Sync();
  if (s.ok()) Observe(segment::Histogram::kWalFsync, util::NowMonoNs() - start);
  return s;
}

void Engine::PublishGauges() {
  seg_.header()->outstanding.store(outstanding_, std::memory_order_relaxed);
  seg_.header()->dead_letters.store(dead_count_, std::memory_order_relaxed);
}

bool Engine::Step() {
  Tick();
  if (rescan_clients_ && !refusing_) {
    rescan_clients_ = false;
    seen_epoch_ = UINT32_MAX;
  }
  ProcessCommands();
  RefreshClients();
  bool did = false;
  for (uint32_t c : active_clients_) did |= DrainLane(c);
  if (!pending_.empty() || !touched_clients_.empty() || wal_->buffered_bytes() != 0) {
    Status s = Commit();
    if (!s.ok() && wal_->sync_failed()) {
      const Status c = Checkpoint();
      if (c.ok()) s = Commit();
    }
    if (!s.ok()) {
      if (!refusing_) {
        LogEvent("WAL write failed: %s; refusing new jobs until it succeeds", s.ToString().c_str());
        refusing_ = true;
        if (!stopping_) SetDaemonState(segment::DaemonState::kRefusing);
      }
      return false;  // the engine idles (and retries) instead of spinning on the error
    }
    Tick();  // the commit may have waited for the disk
    EndRefusal();
    Apply();
    did = true;
  }
  if (wal_dirty_ && config_.durability != segment::Durability::kNone &&
      util::NowMonoNs() - last_sync_mono_ns_ >= config_.interval_ms * kMsNs) {
    if (SyncWal().ok()) {
      seg_.Add(segment::Counter::kWalFsyncs);
      wal_dirty_ = false;
    }
    last_sync_mono_ns_ = util::NowMonoNs();
  }
  FlushFreeBacklog();
  RelogOldestSegment();
  CollectSegments();
  ExpireLeases();
  ReleaseDueJobs();
  RefreshDeadLetters(/*force=*/false);
  if (!stopping_) Dispatch();  // a job handed out now could not finish before the exit
  PublishGauges();
  return did;
}

Status Engine::Run(const std::atomic<bool>& stop) {
  segment::SegmentHeader* hdr = seg_.header();
  auto idle = [&](uint64_t timeout_ns) {
    util::SpinThenWait(&hdr->doorbell, &hdr->daemon_sleeping, refusing_ ? 0 : kIdleSpins,
                       timeout_ns, [&] { return AnyLanePending(); });
  };
  while (!stop.load(std::memory_order_relaxed)) {
    if (!Step()) idle(refusing_ ? 100 * kMsNs : 20 * kMsNs);
  }
  stopping_ = true;
  SetDaemonState(segment::DaemonState::kStopping);
  LogEvent("stopping: no new jobs; waiting up to %u ms for running jobs",
           config_.shutdown_grace_ms);
  const uint64_t deadline = util::NowMonoNs() + config_.shutdown_grace_ms * kMsNs;
  uint64_t leased = 0;
  for (;;) {
    Step();
    leased = CountLeasedSlots();
    if ((leased == 0 && !AnyLanePending()) || util::NowMonoNs() >= deadline) break;
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
