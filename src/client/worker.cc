#include "taskring/worker.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include "client/heartbeat.h"
#include "client/session.h"
#include "client/worker_impl.h"
#include "outcome/outcome_record.h"
#include "segment/ring.h"
#include "segment/slot_claim.h"
#include "util/clock.h"
#include "util/futex.h"
#include "util/job_meta.h"

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
  if (options.types.size() > kMaxWorkerTypes) {
    return Status::InvalidArgument("a worker declares at most " + std::to_string(kMaxWorkerTypes) +
                                   " types");
  }
  for (const std::string& t : options.types) {
    Status v = util::ValidateJobType(t);
    if (!v.ok()) return v;
  }
  std::unique_ptr<client::Session> session;
  Status s = client::Session::Open(
      options.queue, segment::ClientRole::kWorker, options.attach_timeout_ms,
      options.wait_for_daemon_ms, &session,
      [&](segment::ClientEntry* e) { Impl::WriteDeclaration(e, options.types); });
  if (!s.ok()) return s;
  auto impl = std::make_unique<Impl>(std::move(session), options);
  impl->AdoptDeclaration(options.types);
  out->reset(new Worker(std::move(impl)));
  return Status::OK();
}

void Worker::Impl::WriteDeclaration(segment::ClientEntry* e,
                                    const std::vector<std::string>& types) {
  uint32_t n = 0;
  bool untyped = false;
  for (const std::string& t : types) {
    if (t.empty()) {
      untyped = true;
    } else {
      e->type_hashes[n++].store(util::JobTypeHash(t), std::memory_order_relaxed);
    }
  }
  // Only "" declared: untyped jobs only; a hash no type has keeps the count non-zero.
  if (!types.empty() && n == 0) e->type_hashes[n++].store(0, std::memory_order_relaxed);
  e->takes_untyped.store(types.empty() || untyped ? 1 : 0, std::memory_order_relaxed);
  e->type_count.store(types.empty() ? 0 : n, std::memory_order_release);
}

void Worker::Impl::AdoptDeclaration(const std::vector<std::string>& types) {
  declared_ = !types.empty();
  takes_untyped_ = !declared_ || std::find(types.begin(), types.end(), "") != types.end();
}

Status Worker::Impl::Declare(const std::vector<std::string>& types) {
  if (types.size() > kMaxWorkerTypes) {
    return Status::InvalidArgument("a worker declares at most " + std::to_string(kMaxWorkerTypes) +
                                   " types");
  }
  WriteDeclaration(session_->seg().client(session_->index()), types);
  AdoptDeclaration(types);
  session_->seg().header()->clients_epoch.fetch_add(1, std::memory_order_acq_rel);
  session_->RingDoorbell();
  return Status::OK();
}

Status Worker::Take(Job* job, uint32_t timeout_ms) { return impl_->Take(job, timeout_ms); }
Status Worker::TakeMany(std::span<Job> jobs, size_t* taken, uint32_t timeout_ms) {
  return impl_->TakeMany(jobs, taken, timeout_ms);
}
Status Worker::Complete(const Job& job) { return impl_->Finish(job, true); }
Status Worker::Complete(const Job& job, std::string_view result) {
  return impl_->Finish(job, true, result);
}
Status Worker::CompleteMany(std::span<const Job> jobs, std::span<Status> outcomes) {
  return impl_->CompleteMany(jobs, outcomes);
}
Status Worker::Fail(const Job& job) { return impl_->Finish(job, false); }
Status Worker::Fail(const Job& job, std::string_view error) {
  return impl_->Finish(job, false, error);
}
Status Worker::ReportProgress(const Job& job, uint32_t percent, std::string_view message) {
  return impl_->ReportProgress(job, percent, message);
}
Status Worker::Touch(const Job& job) { return impl_->Touch(job); }
Status Worker::Release(const Job& job) { return impl_->Release(job); }
uint32_t Worker::lease_ms() const { return impl_->lease_ms(); }
Status Worker::Run(const Handler& handler, const RunOptions& options) {
  return impl_->Run([&handler](const Job& job, std::string*) { return handler(job); }, options);
}
Status Worker::Run(const ResultHandler& handler, const RunOptions& options) {
  return impl_->Run(handler, options);
}
Status Worker::Run(const Handlers& handlers, const RunOptions& options) {
  return impl_->RunRouted(handlers, options);
}
void Worker::Stop() { impl_->stop.store(true, std::memory_order_relaxed); }
uint64_t Worker::jobs_done() const { return impl_->jobs_done.load(std::memory_order_relaxed); }

bool Worker::Impl::TryLease(Job* job) {
  if (declared_ && TryTakeOffer(job)) return true;
  return takes_untyped_ && TryRings(job);
}

bool Worker::Impl::TryRings(Job* job) {
  const segment::Segment& seg = session_->seg();
  const uint32_t in_use = seg.header()->priorities_in_use.load(std::memory_order_acquire);
  for (uint32_t p = segment::kPriorityLevels; p-- > 0;) {
    if ((in_use & (1u << p)) == 0) continue;
    uint32_t slot = 0, gen = 0;
    if (segment::ClaimFromRing(seg, seg.dispatch_ring(p), SlotState::kQueued, session_->index(),
                               SlotState::kRunning, &slot, &gen)) {
      FillJob(slot, gen, job);
      return true;
    }
  }
  return false;
}

bool Worker::Impl::TryTakeOffer(Job* job) {
  const segment::Segment& seg = session_->seg();
  segment::ClientEntry* e = seg.client(session_->index());
  uint64_t ref = e->offer.load(std::memory_order_acquire);
  if (ref == 0) return false;
  // Written first, so the daemon finds the job if this process dies before claiming it.
  e->taking.store(ref, std::memory_order_seq_cst);
  bool claimed = false;
  if (e->offer.compare_exchange_strong(ref, 0, std::memory_order_acq_rel)) {
    const uint32_t slot = segment::RefSlot(ref);
    uint64_t expected =
        segment::PackSlotWord(segment::RefGen(ref), segment::kNoClient, SlotState::kQueued);
    claimed =
        seg.ValidSlot(slot) &&
        seg.slot(slot)->word.compare_exchange_strong(
            expected,
            segment::PackSlotWord(segment::RefGen(ref), session_->index(), SlotState::kRunning),
            std::memory_order_acq_rel);
  }
  e->taking.store(0, std::memory_order_release);
  if (!claimed) return false;
  FillJob(segment::RefSlot(ref), segment::RefGen(ref), job);
  return true;
}

void Worker::Impl::FillJob(uint32_t slot, uint32_t gen, Job* job) {
  const segment::Segment& seg = session_->seg();
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
  job->priority_ = std::min<int>(h->priority, kMaxPriority);
  job->timeout_ms_ = h->timeout_ms;
  job->cancel_flag_ = &seg.extra(slot)->cancel;
  job->token_.id = job->id_;
  segment::StatusEntry* st = seg.status_entry(job->id_);  // a live job's entry is its own
  segment::LoadSecret(st, job->token_.secret.data());
  if (job->timeout_ms_ != 0) {
    job->deadline_mono_ns_ = util::NowMonoNs() + uint64_t{job->timeout_ms_} * kMsNs;
  }
  const uint32_t meta_len = h->meta_len;
  if (meta_len != 0) {
    util::JobMeta meta;
    // The daemon checked it when it logged the job; a scribbler since gets an untyped job.
    if (uint64_t{len} + meta_len <= seg.params().max_payload &&
        util::DecodeJobMeta(std::string_view(seg.meta(slot, len), meta_len), &meta).ok()) {
      job->type_ = std::move(meta.type);
      job->headers_ = std::move(meta.headers);
    }
  }
  const uint64_t now_unix = util::NowUnixNs();
  h->started_unix_ns = now_unix;
  st->updated_unix_ns.store(now_unix, std::memory_order_relaxed);
  st->packed.store(segment::PackStatus(job->id_, segment::JobStateCode::kRunning, job->attempt_),
                   std::memory_order_release);
}

Status Worker::Impl::TakeMany(std::span<Job> jobs, size_t* taken, uint32_t timeout_ms) {
  *taken = 0;
  if (jobs.empty()) return Status::InvalidArgument("no room for a job: the span is empty");
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
    if (WaitForJob(spins, wait, try_take)) break;
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

template <typename TryTake>
bool Worker::Impl::WaitForJob(int spins, uint64_t wait_ns, TryTake try_take) {
  segment::SegmentHeader* hdr = session_->seg().header();
  if (!declared_) {
    return util::SpinThenWait(&hdr->dispatch_futex, &hdr->dispatch_sleepers, spins, wait_ns,
                              try_take);
  }
  // Offers come only while `want` is set: tell the daemon, which may be asleep.
  segment::ClientEntry* e = session_->seg().client(session_->index());
  e->want.store(1, std::memory_order_seq_cst);
  session_->RingDoorbell();
  const bool got =
      util::SpinThenWait(&e->offer_futex, &e->offer_sleepers, spins, wait_ns, try_take);
  e->want.store(0, std::memory_order_seq_cst);
  // An offer made just before `want` was cleared is still ours to take; one made after, the
  // daemon takes back.
  return got || try_take();
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

Status Worker::Impl::Finish(const Job& job, bool success, std::string_view text) {
  const uint32_t max_result = session_->seg().params().max_result;
  if (success && text.size() > max_result) {
    // Never cut a result: the attempt fails, saying why, and may run again (or die).
    const std::string why = "result of " + std::to_string(text.size()) +
                            " bytes exceeds the queue's max result of " +
                            std::to_string(max_result) + " bytes (taskringd --max-result)";
    Status s = Finish(job, false, why);
    return s.ok() ? Status::InvalidArgument(why) : s;
  }
  Status s = Fence(job, success);
  if (!s.ok()) return s;
  if (text.empty()) {
    s = Push(success ? LaneOp::kComplete : LaneOp::kFail, job.slot_, job.slot_gen_, job.attempt_);
  } else {
    std::lock_guard<std::mutex> lock(push_mu_);
    s = PushText(success ? LaneOp::kCompleteResult : LaneOp::kFailError, job,
                 success ? text : text.substr(0, outcome::kMaxErrorBytes));
  }
  if (!s.ok()) return s;
  session_->RingDoorbell();  // outcomes wake the daemon at once
  jobs_done.fetch_add(1, std::memory_order_relaxed);
  return Status::OK();
}

Status Worker::Impl::Release(const Job& job) {
  Status s = Fence(job, /*success=*/false);
  if (!s.ok()) return s;
  s = Push(LaneOp::kRelease, job.slot_, job.slot_gen_, job.attempt_);
  if (!s.ok()) return s;
  session_->RingDoorbell();
  return Status::OK();
}

Status Worker::Impl::PushText(LaneOp op, const Job& job, std::string_view text) {
  if (text_in_flight_) {
    // The daemon copies the bytes when it drains the record, before it commits it.
    Status s = session_->WaitCommitted(text_pos_, options_.spin_iterations, 30000);
    if (!s.ok()) return s;
    text_in_flight_ = false;
  }
  const segment::Segment& seg = session_->seg();
  std::memcpy(seg.result_buffer(session_->index()), text.data(), text.size());
  seg.client(session_->index())
      ->result_len.store(static_cast<uint32_t>(text.size()), std::memory_order_release);
  uint64_t pos = 0;
  Status s = session_->Push(
      LaneRecord{static_cast<uint32_t>(op), job.slot_, job.slot_gen_, job.attempt_}, &pos);
  if (!s.ok()) return s;
  text_in_flight_ = true;
  text_pos_ = pos;
  return Status::OK();
}

Status Worker::Impl::ReportProgress(const Job& job, uint32_t percent, std::string_view message) {
  if (percent > 100) {
    return Status::InvalidArgument("progress is a percentage: " + std::to_string(percent) +
                                   " is over 100");
  }
  Status s = CheckLease(job);
  if (!s.ok()) return s;
  segment::WriteProgress(session_->seg().extra(job.slot_), job.attempt_,
                         static_cast<uint8_t>(percent), message);
  return Status::OK();
}

Status Worker::Impl::CheckLease(const Job& job) const {
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

Status Worker::Impl::Invoke(const ResultHandler& handler, const Job& job, std::string* result) {
  result->clear();
  try {
    Status s = handler(job, result);
    // Past its timeout the attempt fails whatever the handler says (a cancel, by contrast,
    // leaves the decision to the handler).
    if (job.deadline_mono_ns_ != 0 && util::NowMonoNs() >= job.deadline_mono_ns_) {
      return Status::TimedOut();
    }
    return s;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("handler threw: ") + e.what());
  } catch (...) {
    return Status::IOError("handler threw a non-standard exception");
  }
}

std::string Worker::Impl::ErrorText(const Status& s) {
  if (s.IsTimedOut()) return "timed out (the job's timeout passed while its handler ran)";
  return s.message().empty() ? s.ToString() : std::string(s.message());
}

Status Worker::Impl::Push(LaneOp op, uint32_t slot, uint32_t gen, uint32_t attempt) {
  std::lock_guard<std::mutex> lock(push_mu_);
  uint64_t pos = 0;
  // Starts and heartbeats ride the next wake-up; outcomes ring the doorbell (Finish).
  return session_->Push(LaneRecord{static_cast<uint32_t>(op), slot, gen, attempt}, &pos);
}

Status Worker::Impl::Touch(const Job& job) {
  // Past its timeout the lease is not extended any more (a cancel request, by contrast, leaves
  // the handler to decide, so its lease lives on).
  if (job.deadline_mono_ns_ != 0 && util::NowMonoNs() >= job.deadline_mono_ns_) {
    return Status::TimedOut();
  }
  Status s = CheckLease(job);
  if (!s.ok()) return s;
  return Push(LaneOp::kTouch, job.slot_, job.slot_gen_, job.attempt_);
}

uint32_t Worker::Impl::lease_ms() const { return session_->seg().header()->lease_ms; }

Status Worker::Impl::RunRouted(const Worker::Handlers& handlers, const RunOptions& options) {
  if (handlers.empty()) return Status::InvalidArgument("no handlers to route jobs to");
  if (!options_.types.empty()) {
    for (const std::string& t : options_.types) {
      if (handlers.find(t) == handlers.end()) {
        return Status::InvalidArgument("the worker declares type \"" + t +
                                       "\" but has no handler for it");
      }
    }
  } else {
    std::vector<std::string> types;
    for (const auto& [type, h] : handlers) types.push_back(type);
    Status s = Declare(types);  // take only what there is a handler for, for this run
    if (!s.ok()) return s;
  }
  Status s = Run(
      [&handlers](const Job& job, std::string*) -> Status {
        auto it = handlers.find(job.type());
        if (it == handlers.end()) {
          return Status::InvalidArgument("no handler for job type \"" + job.type() + "\"");
        }
        return it->second(job);
      },
      options);
  if (options_.types.empty()) (void)Declare({});
  return s;
}

Status Worker::Impl::Run(const ResultHandler& handler, const RunOptions& options) {
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
    std::string result;
    const Status outcome = Invoke(handler, job, &result);
    if (heartbeat) heartbeat->Remove(job);
    s = outcome.ok() ? Finish(job, true, result) : Finish(job, false, ErrorText(outcome));
    // InvalidArgument: an oversized result, which failed the attempt; the run goes on.
    if (!s.ok() && !s.IsStaleLease() && !s.IsInvalidArgument()) return s;
    ++done;
    idle_since = util::NowMonoNs();
  }
  return Status::OK();
}

}  // namespace taskring
