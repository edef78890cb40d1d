// The load tool's Boost.Interprocess message_queue backend: a bounded queue of whole messages
// in POSIX shared memory, guarded by a process-shared mutex and condition variables.
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/permissions.hpp>
#include <vector>

#include "loadgen/backend.h"
#include "loadgen/peers.h"

namespace taskring::loadgen {
namespace {

namespace bip = boost::interprocess;

Status Error(const std::string& name, const char* what, const std::exception& e) {
  return Status::IOError("boost message_queue " + name + ": " + what + ": " + e.what());
}

// Senders and receivers open the queue the same way; the first one creates it.
Status OpenQueue(const Target& t, std::unique_ptr<bip::message_queue>* out) {
  if (t.queue.empty()) return Status::InvalidArgument("boost message_queue: empty queue name");
  if (t.capacity == 0 || t.max_payload == 0) {
    return Status::InvalidArgument("boost message_queue: capacity and max payload must be > 0");
  }
  try {
    *out = std::make_unique<bip::message_queue>(bip::open_or_create, t.queue.c_str(), t.capacity,
                                                t.max_payload, bip::permissions(0600));
  } catch (const std::exception& e) {
    return Error(t.queue, "open", e);
  }
  return Status::OK();
}

class BoostMqSender : public Sender {
 public:
  BoostMqSender(std::string name, std::unique_ptr<bip::message_queue> mq)
      : name_(std::move(name)), mq_(std::move(mq)), max_size_(mq_->get_max_msg_size()) {}

  Status Send(std::span<const std::string_view> payloads, std::span<SendOutcome> out) override {
    for (size_t i = 0; i < payloads.size(); ++i) {
      // The queue's own limit (set by its creator) decides; Boost would throw size_error.
      if (payloads[i].size() > max_size_) {
        out[i] = SendOutcome::kError;
        continue;
      }
      try {
        out[i] = mq_->try_send(payloads[i].data(), payloads[i].size(), 0) ? SendOutcome::kAccepted
                                                                          : SendOutcome::kBusy;
      } catch (const std::exception& e) {
        for (size_t j = i; j < payloads.size(); ++j) out[j] = SendOutcome::kError;
        return Error(name_, "send", e);
      }
    }
    return Status::OK();
  }

 private:
  std::string name_;
  std::unique_ptr<bip::message_queue> mq_;
  size_t max_size_;
};

class BoostMqReceiver : public Receiver {
 public:
  BoostMqReceiver(std::string name, std::unique_ptr<bip::message_queue> mq)
      // Boost refuses a receive buffer smaller than the queue's max message size.
      : name_(std::move(name)), mq_(std::move(mq)), buf_(mq_->get_max_msg_size()) {}

  Status Receive(std::string* payload, uint32_t timeout_ms) override {
    bip::message_queue::size_type size = 0;
    unsigned int priority = 0;
    bool got;
    try {
      if (timeout_ms == 0) {
        got = mq_->try_receive(buf_.data(), buf_.size(), size, priority);
      } else {
        // Boost waits on CLOCK_REALTIME: the deadline is absolute, in universal time.
        const auto deadline = boost::posix_time::microsec_clock::universal_time() +
                              boost::posix_time::milliseconds(timeout_ms);
        got = mq_->timed_receive(buf_.data(), buf_.size(), size, priority, deadline);
      }
    } catch (const std::exception& e) {
      return Error(name_, "receive", e);
    }
    if (!got) return Status::TimedOut();
    if (size > buf_.size()) return Status::Corruption("boost message_queue " + name_ + ": size");
    payload->assign(buf_.data(), size);
    return Status::OK();
  }

  Status Ack() override { return Status::OK(); }  // a received message is already gone

 private:
  std::string name_;
  std::unique_ptr<bip::message_queue> mq_;
  std::vector<char> buf_;
};

}  // namespace

void RemoveBoostMq(const std::string& name) {
  try {
    bip::message_queue::remove(name.c_str());
  } catch (...) {
    // remove() is documented not to throw; nothing to do if it did.
  }
}

Status MakeBoostMqSender(const Target& t, std::unique_ptr<Sender>* out) {
  std::unique_ptr<bip::message_queue> mq;
  Status s = OpenQueue(t, &mq);
  if (s.ok()) *out = std::make_unique<BoostMqSender>(t.queue, std::move(mq));
  return s;
}

Status MakeBoostMqReceiver(const Target& t, std::unique_ptr<Receiver>* out) {
  std::unique_ptr<bip::message_queue> mq;
  Status s = OpenQueue(t, &mq);
  if (!s.ok()) return s;
  try {
    // The buffer is as large as the queue's creator allowed, which may exceed ours.
    *out = std::make_unique<BoostMqReceiver>(t.queue, std::move(mq));
  } catch (const std::exception& e) {
    return Error(t.queue, "receive buffer", e);
  }
  return Status::OK();
}

}  // namespace taskring::loadgen
