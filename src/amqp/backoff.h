// Reconnect delays: doubling from `first` to `max`, each drawn from [d/2, d] so that many
// links cut by one broker restart do not reconnect in step.
#ifndef TASKRING_AMQP_BACKOFF_H_
#define TASKRING_AMQP_BACKOFF_H_

#include <algorithm>
#include <cstdint>
#include <random>

namespace taskring::amqp {

class Backoff {
 public:
  Backoff(uint32_t first_ms, uint32_t max_ms) : first_(first_ms), max_(max_ms), next_(first_ms) {}
  uint32_t NextMs() {
    const uint32_t d = next_;
    next_ = std::min<uint64_t>(uint64_t{next_} * 2, max_);
    return std::uniform_int_distribution<uint32_t>(d / 2, d)(rng_);
  }
  void Reset() { next_ = first_; }

 private:
  uint32_t first_, max_, next_;
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_BACKOFF_H_
