// When a link logs that it cannot reach RabbitMQ: the first failure of an outage, a new reason
// at once, the same reason again at most once a minute (a broker down for an hour is a few
// dozen lines, not thousands).
#ifndef TASKRING_AMQP_OUTAGE_LOG_H_
#define TASKRING_AMQP_OUTAGE_LOG_H_

#include <chrono>
#include <string>

namespace taskring::amqp {

class OutageLog {
 public:
  bool ShouldLog(const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (why == last_ && now - logged_at_ < std::chrono::minutes(1)) return false;
    last_ = why;
    logged_at_ = now;
    return true;
  }
  // Connected again: the next failure starts a new outage.
  void Reset() { last_.clear(); }

 private:
  std::string last_;
  std::chrono::steady_clock::time_point logged_at_{};
};

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_OUTAGE_LOG_H_
