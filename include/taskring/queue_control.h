// QueueControl: operations on a whole queue, for deploys and incidents (taskring queue
// pause|resume|purge uses it).
//
// Pause stops handing out jobs without refusing new ones: producers keep enqueueing, running
// jobs finish, nothing new starts until Resume. The paused state survives a daemon restart.
// Purge cancels every queued and delayed job (not running ones): each is logged as cancelled,
// so none comes back after a restart, and its slot is freed.
//
// Thread-safety: like Producer, one thread at a time.
#ifndef TASKRING_QUEUE_CONTROL_H_
#define TASKRING_QUEUE_CONTROL_H_

#include <cstdint>
#include <memory>

#include "taskring/export.h"
#include "taskring/options.h"
#include "taskring/status.h"

namespace taskring {

namespace client {
class Session;
}

class TASKRING_EXPORT QueueControl {
 public:
  // The same results as Producer::Open (it takes a client entry too).
  [[nodiscard]] static Status Open(const ProducerOptions& options,
                                   std::unique_ptr<QueueControl>* out);
  ~QueueControl();
  QueueControl(const QueueControl&) = delete;
  QueueControl& operator=(const QueueControl&) = delete;

  // Each returns once the daemon has applied (and logged) the change.
  [[nodiscard]] Status Pause();
  [[nodiscard]] Status Resume();
  // *cancelled: how many jobs it cancelled.
  [[nodiscard]] Status Purge(uint64_t* cancelled);
  [[nodiscard]] bool paused() const;

 private:
  explicit QueueControl(std::unique_ptr<client::Session> session, const ProducerOptions& options);
  Status Send(uint32_t op, uint64_t* answer);
  std::unique_ptr<client::Session> session_;
  ProducerOptions options_;
};

}  // namespace taskring

#endif  // TASKRING_QUEUE_CONTROL_H_
