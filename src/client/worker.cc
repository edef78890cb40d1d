#include "taskring/worker.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <string>

#include "client/heartbeat.h"
#include "client/session.h"
#include "client/worker_impl.h"
#include "segment/ring.h"
#include "segment/slot_claim.h"
#include "util/clock.h"
#include "util/futex.h"

namespace taskring {

using segment::LaneOp;
using segment::LaneRecord;
using segment::SlotState;

namespace {
constexpr uint64_t kMsNs = 1'000'000;
}  // namespace

std::chrono::milliseconds Worker::Impl::HeartbeatPeriod(uint32_t lease_ms) {
  // Three heartbeats per lease: one delayed by scheduling still leaves a margin.
  return std::chrono::milliseconds(std::max<uint32_t>(lease_ms / 3, 1));
}

bool Worker::Impl::IdleExitDue(const RunOptions& options, uint64_t idle_since) {
  return options.idle_exit_ms != 0 &&
         util::NowMonoNs() - idle_since >= uint64_t{options.idle_exit_ms} * kMsNs;
}

Worker::Impl::Impl(std::unique_ptr<client::Session> session, const WorkerOptions& options)
    : session_(std::move(session)), options_(options) {}

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Worker::~Worker() = default;

Status Worker::Open(const WorkerOptions& options, std::unique_ptr<Worker>* out) {
  std::unique_ptr<client::Session> session;
  Status s = client::Session::Open(options.queue, segment::ClientRole::kWorker,
                                   options.attach_timeout_ms, options.wait_for_daemon_ms, &session);
  if (!s.ok()) return s;
  out->reset(new Worker(std::make_unique<Impl>(std::move(session), options)));
  return Status::OK();
}

Status Worker::Take(Job* job, uint32_t timeout_ms) { return impl_->Take(job, timeout_ms); }
Status Worker::TakeMany(std::span<Job> jobs, size_t* taken, uint32_t timeout_ms) {
  return impl_->TakeMany(jobs, taken, timeout_ms);
}
Status Worker::Complete(const Job& job) { return impl_->Finish(job, true); }
Status Worker::CompleteMany(std::span<const Job> jobs, std::span<Status> outcomes) {
  return impl_->CompleteMany(jobs, outcomes);
}
Status Worker::Fail(const Job& job) { return impl_->Finish(job, false); }
Status Worker::Touch(const Job& job) { return impl_->Touch(job); }
uint32_t Worker::lease_ms() const { return impl_->lease_ms(); }
Status Worker::Run(const Handler& handler, const RunOptions& options) {
  return impl_->Run(handler, options);
}
void Worker::Stop() { impl_->stop.store(true, std::memory_order_relaxed); }
uint64_t Worker::jobs_done() const { return impl_->jobs_done.load(std::memory_order_relaxed); }

bool Worker::Impl::TryLease(Job* job) {
  const segment::Segment& seg = session_->seg();
  uint32_t slot = 0, gen = 0;
  if (!segment::ClaimFromRing(seg, seg.dispatch_ring(), SlotState::kQueued, session_->index(),
                              SlotState::kRunning, &slot, &gen)) {
    return false;
  }
  segment::SlotHeader* h = seg.slot(slot);
  const uint32_t len = std::min(h->payload_len, seg.params().max_payload);  // never trust shm
  *job = Job();
  job->id_ = h->job_id;
  job->attempt_ = h->attempt.load(std::memory_order_relaxed);
  job->max_attempts_ = h->max_attempts;
  job->enqueued_unix_ns_ = h->enqueued_unix_ns;
  job->payload_ = std::string_view(seg.payload(slot), len);
  job->slot_ = slot;
  job->slot_gen_ = gen;
  const uint64_t now_unix = util::NowUnixNs();
  h->started_unix_ns = now_unix;
  segment::StatusEntry* st = seg.status_entry(job->id_);
  st->updated_unix_ns.store(now_unix, std::memory_order_relaxed);
  st->packed.store(segment::PackStatus(job->id_, segment::JobStateCode::kRunning, job->attempt_),
                   std::memory_order_release);
  return true;
}

Status Worker::Impl::TakeMany(std::span<Job> jobs, size_t* taken, uint32_t timeout_ms) {
  *taken = 0;
  if (jobs.empty()) return Status::InvalidArgument("no room for a job: the span is empty");
  segment::RingView ring = session_->seg().dispatch_ring();
  auto try_take = [&]() -> bool { return TryLease(&jobs[0]); };

  Status daemon = session_->CheckDaemon();
  if (!daemon.ok()) return daemon;
  int spins = static_cast<int>(options_.spin_iterations);
  uint64_t deadline = 0;  // read the clock only when there is something to wait for
  while (!try_take()) {
    const uint64_t now = util::NowMonoNs();
    if (deadline == 0) deadline = now + uint64_t{timeout_ms} * kMsNs;
    if (now >= deadline) return Status::TimedOut();
    const uint64_t wait = std::min<uint64_t>(deadline - now, 100 * kMsNs);
    if (util::SpinThenWait(&ring.header()->futex, &ring.header()->sleepers, spins, wait,
                           try_take)) {
      break;
    }
    spins = 0;
    daemon = session_->CheckDaemon();
    if (!daemon.ok()) return daemon;
  }
  size_t n = 1;
  while (n < jobs.size() && TryLease(&jobs[n])) ++n;
  *taken = n;
  // The leases are held from here; a START lost with the daemon is reclaimed by the next one.
  for (size_t i = 0; i < n; ++i) {
    Status s = Push(LaneOp::kStart, jobs[i].slot_, jobs[i].slot_gen_, jobs[i].attempt_);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status Worker::Impl::Fence(const Job& job, bool success) {
  if (!job.valid()) return Status::InvalidArgument("job was not taken by this worker");
  const segment::Segment& seg = session_->seg();
  if (!seg.ValidSlot(job.slot_)) return Status::InvalidArgument("job handle is corrupt");
  segment::SlotHeader* h = seg.slot(job.slot_);
  const uint32_t me = session_->index();
  // Fence our own lease first: if the daemon revoked it (we were too slow or taken for dead),
  // the CAS fails and this late outcome must not touch the job's new attempt.
  uint64_t expected = segment::PackSlotWord(job.slot_gen_, me, SlotState::kRunning);
  const uint64_t next = segment::PackSlotWord(
      job.slot_gen_, me, success ? SlotState::kCompleting : SlotState::kFailing);
  if (h->attempt.load(std::memory_order_relaxed) != job.attempt_ ||
      !h->word.compare_exchange_strong(expected, next, std::memory_order_acq_rel)) {
    seg.Add(segment::Counter::kStaleAcks);
    return Status::StaleLease("lease of job " + std::to_string(job.id_) + " attempt " +
                              std::to_string(job.attempt_) + " was revoked");
  }
  return Status::OK();
}

Status Worker::Impl::Finish(const Job& job, bool success) {
  Status s = Fence(job, success);
  if (!s.ok()) return s;
  s = Push(success ? LaneOp::kComplete : LaneOp::kFail, job.slot_, job.slot_gen_, job.attempt_);
  if (!s.ok()) return s;
  session_->RingDoorbell();  // outcomes wake the daemon at once
  jobs_done.fetch_add(1, std::memory_order_relaxed);
  return Status::OK();
}

Status Worker::Impl::CompleteMany(std::span<const Job> jobs, std::span<Status> outcomes) {
  if (!outcomes.empty() && outcomes.size() != jobs.size()) {
    return Status::InvalidArgument("outcomes must be empty or as many as the jobs");
  }
  Status first_error;
  bool pushed = false;
  for (size_t i = 0; i < jobs.size(); ++i) {
    Status s = Fence(jobs[i], true);
    if (s.ok()) {
      s = Push(LaneOp::kComplete, jobs[i].slot_, jobs[i].slot_gen_, jobs[i].attempt_);
      if (s.ok()) {
        pushed = true;
        jobs_done.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (!outcomes.empty()) outcomes[i] = s;
    if (!s.ok() && !s.IsStaleLease() && first_error.ok()) first_error = s;
  }
  if (pushed) session_->RingDoorbell();
  return first_error;
}

Status Worker::Impl::Invoke(const Handler& handler, const Job& job) {
  try {
    return handler(job);
  } catch (const std::exception& e) {
    return Status::IOError(std::string("handler threw: ") + e.what());
  } catch (...) {
    return Status::IOError("handler threw a non-standard exception");
  }
}

Status Worker::Impl::Push(LaneOp op, uint32_t slot, uint32_t gen, uint32_t attempt) {
  std::lock_guard<std::mutex> lock(push_mu_);
  uint64_t pos = 0;
  // Starts and heartbeats ride the next wake-up; outcomes ring the doorbell (Finish).
  return session_->Push(LaneRecord{static_cast<uint32_t>(op), slot, gen, attempt}, &pos);
}

Status Worker::Impl::Touch(const Job& job) {
  if (!job.valid()) return Status::InvalidArgument("job was not taken by this worker");
  const segment::Segment& seg = session_->seg();
  if (!seg.ValidSlot(job.slot_)) return Status::InvalidArgument("job handle is corrupt");
  const segment::SlotHeader* h = seg.slot(job.slot_);
  if (h->word.load(std::memory_order_acquire) !=
          segment::PackSlotWord(job.slot_gen_, session_->index(), SlotState::kRunning) ||
      h->attempt.load(std::memory_order_relaxed) != job.attempt_) {
    return Status::StaleLease("lease of job " + std::to_string(job.id_) + " attempt " +
                              std::to_string(job.attempt_) + " is no longer held");
  }
  return Push(LaneOp::kTouch, job.slot_, job.slot_gen_, job.attempt_);
}

uint32_t Worker::Impl::lease_ms() const { return session_->seg().header()->lease_ms; }

Status Worker::Impl::Run(const Handler& handler, const RunOptions& options) {
  if (options.threads > 1) return RunPool(handler, options);
  if (options.batch > 1) return RunBatches(handler, options);
  std::optional<client::Heartbeat> heartbeat;
  if (options.heartbeat) {
    heartbeat.emplace(HeartbeatPeriod(lease_ms()), [this](const Job& j) { (void)Touch(j); });
  }
  uint64_t idle_since = util::NowMonoNs();
  uint64_t done = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    if (options.max_jobs != 0 && done >= options.max_jobs) break;
    Job job;
    Status s = Take(&job, 100);
    if (s.IsTimedOut()) {
      if (IdleExitDue(options, idle_since)) break;
      continue;
    }
    if (!s.ok()) return s;
    if (heartbeat) heartbeat->Add(job);
    const Status outcome = Invoke(handler, job);
    if (heartbeat) heartbeat->Remove(job);
    s = Finish(job, outcome.ok());
    if (!s.ok() && !s.IsStaleLease()) return s;
    ++done;
    idle_since = util::NowMonoNs();
  }
  return Status::OK();
}

}  // namespace taskring
