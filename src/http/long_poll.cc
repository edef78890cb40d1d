#include "http/long_poll.h"

#include "util/clock.h"

namespace taskring::http {

void LongPoll::Start(const net::any_io_executor& ex, std::shared_ptr<const JobClient> jobs,
                     std::string token, uint64_t deadline_mono_ns,
                     std::chrono::milliseconds interval, Done done) {
  std::make_shared<LongPoll>(ex, std::move(jobs), std::move(token), deadline_mono_ns, interval,
                             std::move(done))
      ->Arm();
}

LongPoll::LongPoll(const net::any_io_executor& ex, std::shared_ptr<const JobClient> jobs,
                   std::string token, uint64_t deadline_mono_ns, std::chrono::milliseconds interval,
                   Done done)
    : timer_(ex),
      jobs_(std::move(jobs)),
      token_(std::move(token)),
      deadline_mono_ns_(deadline_mono_ns),
      interval_(interval),
      done_(std::move(done)) {}

void LongPoll::Arm() {
  timer_.expires_after(interval_);
  timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) { self->Check(ec); });
}

void LongPoll::Check(const boost::system::error_code& ec) {
  JobStatus st;
  const Status s = jobs_->GetStatus(token_, &st);
  // A cancelled timer (shutdown) answers with what there is, as a deadline does.
  if (!s.ok() || ec || IsTerminal(st.state) || util::NowMonoNs() >= deadline_mono_ns_) {
    return done_(s, st);
  }
  Arm();
}

}  // namespace taskring::http
