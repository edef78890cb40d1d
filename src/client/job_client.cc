#include "taskring/job_client.h"

#include <algorithm>
#include <mutex>

#include "client/job_lookup.h"
#include "client/session.h"
#include "util/clock.h"
#include "util/futex.h"

namespace taskring {

using segment::LaneOp;

namespace {
constexpr uint64_t kMsNs = 1'000'000;
}  // namespace

const char* CancelOutcomeName(CancelOutcome c) {
  switch (c) {
    case CancelOutcome::kCancelled: return "cancelled";
    case CancelOutcome::kRequested: return "requested";
    case CancelOutcome::kAlreadyFinished: return "already_finished";
  }
  return "unknown";
}

class JobClient::Impl {
 public:
  Impl(std::unique_ptr<client::Session> session, const JobClientOptions& options)
      : session_(std::move(session)), options_(options) {}

  const segment::Segment& seg() const { return session_->seg(); }

  Status Wait(uint64_t id, uint32_t timeout_ms, JobStatus* out) const {
    segment::SegmentHeader* h = seg().header();
    const uint64_t deadline = util::NowMonoNs() + uint64_t{timeout_ms} * kMsNs;
    Status s;
    // The status entry says terminal first (the daemon stores the outcome before it sets it):
    // one load per check, so the futex's wake-ups cost waiters almost nothing.
    auto finished = [&] {
      JobState state = JobState::kUnknown;
      uint32_t attempt = 0;
      const uint64_t packed = seg().status_entry(id)->packed.load(std::memory_order_acquire);
      return !segment::UnpackStatus(packed, id, &state, &attempt) || IsTerminal(state);
    };
    for (;;) {
      s = client::LookupJob(seg(), id, out);
      if (!s.ok() || IsTerminal(out->state)) return s;
      const uint64_t now = util::NowMonoNs();
      if (now >= deadline) return Status::TimedOut();
      Status alive = session_->CheckDaemon();
      if (!alive.ok() && !alive.IsIOError()) return alive;  // a refusing daemon still finishes
      // Woken by the daemon after jobs end; re-checked at least every 100 ms for its liveness.
      util::SpinThenWait(&h->outcome_futex, &h->outcome_waiters, /*spins=*/0,
                         std::min<uint64_t>(deadline - now, 100 * kMsNs), finished);
    }
  }

  Status Cancel(uint64_t id, CancelOutcome* out) {
    JobStatus st;
    Status s = client::LookupJob(seg(), id, &st);
    if (!s.ok()) return s;
    if (st.state == JobState::kExpired) {
      return Status::NotFound("job " + std::to_string(id) + " finished long ago (expired)");
    }
    if (IsTerminal(st.state)) {
      *out = CancelOutcome::kAlreadyFinished;
      return Status::OK();
    }
    std::lock_guard<std::mutex> lock(mu_);  // one lane; its answer is read before the next push
    s = session_->CheckDaemon();
    if (!s.ok() && !s.IsIOError()) return s;
    uint64_t pos = 0;
    s = session_->Push(
        segment::LaneRecord{static_cast<uint32_t>(LaneOp::kCancel), static_cast<uint32_t>(id),
                            static_cast<uint32_t>(id >> 32), 0},
        &pos);
    if (!s.ok()) return s;
    session_->RingDoorbell();
    s = session_->WaitCommitted(pos, /*spins=*/0, options_.cancel_timeout_ms);
    if (!s.ok()) return s;
    const segment::LaneRecord answer = session_->ReadAnswer(pos);
    if (answer.op != (segment::kAnswered | static_cast<uint32_t>(LaneOp::kCancel))) {
      return Status::Corruption("the daemon did not answer the cancel");
    }
    switch (static_cast<segment::CancelAnswer>(segment::AnswerValue(answer))) {
      case segment::CancelAnswer::kCancelled: *out = CancelOutcome::kCancelled; break;
      case segment::CancelAnswer::kRequested: *out = CancelOutcome::kRequested; break;
      case segment::CancelAnswer::kAlreadyFinished: *out = CancelOutcome::kAlreadyFinished; break;
      case segment::CancelAnswer::kNotFound:
        return Status::NotFound("job " + std::to_string(id) + " is not accepted yet or is gone");
      default: return Status::Corruption("the daemon answered the cancel with an unknown code");
    }
    return Status::OK();
  }

 private:
  std::unique_ptr<client::Session> session_;
  const JobClientOptions options_;
  std::mutex mu_;
};

JobClient::JobClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JobClient::~JobClient() = default;

Status JobClient::Open(const JobClientOptions& options, std::unique_ptr<JobClient>* out) {
  std::unique_ptr<client::Session> session;
  Status s = client::Session::Open(options.queue, segment::ClientRole::kProducer,
                                   options.attach_timeout_ms, options.wait_for_daemon_ms, &session);
  if (!s.ok()) return s;
  out->reset(new JobClient(std::make_unique<Impl>(std::move(session), options)));
  return Status::OK();
}

Status JobClient::GetStatus(uint64_t job_id, JobStatus* out) const {
  return client::LookupJob(impl_->seg(), job_id, out);
}

Status JobClient::GetStatus(std::string_view token, JobStatus* out) const {
  return client::LookupJobByToken(impl_->seg(), token, out);
}

Status JobClient::GetResult(uint64_t job_id, std::string* out) const {
  return client::LookupResult(impl_->seg(), job_id, out);
}

Status JobClient::GetResult(std::string_view token, std::string* out) const {
  JobStatus st;
  Status s = client::LookupJobByToken(impl_->seg(), token, &st);
  if (!s.ok()) return s;
  return client::LookupResult(impl_->seg(), st.id, out);
}

Status JobClient::Wait(uint64_t job_id, uint32_t timeout_ms, JobStatus* out) const {
  return impl_->Wait(job_id, timeout_ms, out);
}

Status JobClient::Wait(std::string_view token, uint32_t timeout_ms, JobStatus* out) const {
  Status s = client::LookupJobByToken(impl_->seg(), token, out);
  if (!s.ok()) return s;
  return impl_->Wait(out->id, timeout_ms, out);
}

Status JobClient::Cancel(uint64_t job_id, CancelOutcome* out) { return impl_->Cancel(job_id, out); }

Status JobClient::Cancel(std::string_view token, CancelOutcome* out) {
  JobStatus st;
  Status s = client::LookupJobByToken(impl_->seg(), token, &st);
  if (!s.ok()) return s;
  return impl_->Cancel(st.id, out);
}

}  // namespace taskring
