// GET ...?wait=S: re-reads a job's status on an Asio timer until it is terminal or S passes,
// then answers once. A status read is a few loads from shared memory, so a waiting client costs
// a timer, not a thread blocked in JobClient::Wait: long polls are bounded by connections, not
// by threads. The price is latency: the answer comes up to one interval after the job ended.
#ifndef TASKRING_HTTP_LONG_POLL_H_
#define TASKRING_HTTP_LONG_POLL_H_

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "http/http_types.h"
#include "taskring/job.h"
#include "taskring/job_client.h"
#include "taskring/status.h"

namespace taskring::http {

class LongPoll : public std::enable_shared_from_this<LongPoll> {
 public:
  // The last read: its Status (NotFound once the job is gone) and, when OK, the job.
  using Done = std::function<void(const Status& s, const JobStatus& st)>;

  // Runs on `ex` (the connection's strand); keeps itself alive until `done` ran.
  static void Start(const net::any_io_executor& ex, std::shared_ptr<const JobClient> jobs,
                    std::string token, uint64_t deadline_mono_ns,
                    std::chrono::milliseconds interval, Done done);

  LongPoll(const net::any_io_executor& ex, std::shared_ptr<const JobClient> jobs, std::string token,
           uint64_t deadline_mono_ns, std::chrono::milliseconds interval, Done done);

 private:
  void Arm();
  void Check(const boost::system::error_code& ec);

  net::steady_timer timer_;
  const std::shared_ptr<const JobClient> jobs_;
  const std::string token_;
  const uint64_t deadline_mono_ns_;
  const std::chrono::milliseconds interval_;
  Done done_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_LONG_POLL_H_
