#include "amqp/relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "amqp/backoff.h"
#include "amqp/message_mapping.h"
#include "amqp/reconnects.h"
#include "daemon/log.h"
#include "taskring/worker.h"

namespace taskring::amqp {
namespace {

using Clock = std::chrono::steady_clock;
using daemon::LogEvent;

constexpr size_t kTakeBatch = 256;         // jobs taken per call, at most
constexpr uint32_t kIdleTakeMs = 100;      // a take's wait with nothing in flight
constexpr uint32_t kConfirmWaitMs = 50;    // a wait for confirms with the window full
constexpr uint32_t kDrainOnStopMs = 5000;  // confirms awaited when stopping
// After a stop, how long the lease keeper lets the loop finish before it shuts the socket down
// under a publish that cannot end (a broker that stopped reading).
constexpr uint32_t kStuckOnStopMs = kDrainOnStopMs + 2000;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string ReplyText(uint16_t code, amqp_bytes_t text) {
  return std::to_string(code) + " " + std::string(static_cast<const char*>(text.bytes), text.len);
}

std::string DefaultOrigin(const std::string& queue) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "localhost/" + queue;
  return std::string(host) + "/" + queue;
}

// One published job awaiting the broker's confirm. Tags are the channel's publish sequence.
struct InFlight {
  enum class Fate : uint8_t { kWaiting, kConfirmed, kNacked, kReturned };
  uint64_t tag;
  Job job;
  Clock::time_point published;
  Fate fate = Fate::kWaiting;
};

class Relay {
 public:
  Relay(const RelayOptions& o, RelayMetrics* m, const std::atomic<bool>& stop)
      : o_(o),
        m_(m),
        stop_(stop),
        builder_(o.origin.empty() ? DefaultOrigin(o.queue) : o.origin),
        reconnects_(m->connection, o.max_backoff_ms),
        return_backoff_(100, o.max_backoff_ms) {}

  Status Run();

 private:
  Status OpenWorker(uint32_t wait_ms);
  bool Connect();
  // One round: take and publish what the window allows, then read confirms. False when the
  // session was lost (its jobs are given back by then).
  bool Pump();
  bool Publish(std::span<Job> jobs);
  bool ReadConfirms(uint32_t wait_ms);
  void OnConfirm(uint64_t tag, bool multiple, InFlight::Fate fate);
  bool OnReturn();
  // Completes, or gives back, the settled jobs at the front of the window.
  void Settle();
  // The lease keeper's thread: renews the leases of the jobs in the window every third of a
  // lease, whatever the loop is doing. rabbitmq-c waits for a write without a bound, and a
  // broker under a memory or disk alarm stops reading from publishers: a loop stuck there must
  // not let its jobs' leases run out, which would count attempts and dead-letter the backlog.
  void KeepLeases();
  void LoseSession(const Status& why);
  void GiveBackAll();
  void SleepMs(uint32_t ms);

  const RelayOptions& o_;
  RelayMetrics* m_;
  const std::atomic<bool>& stop_;
  MessageBuilder builder_;
  Reconnects reconnects_;
  Backoff return_backoff_;  // publishing paused after an unroutable return
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<AmqpSession> session_;
  // window_ and worker_ change only in the loop's thread, under mu_; the lease keeper reads
  // them under mu_.
  std::mutex mu_;
  std::deque<InFlight> window_;
  std::atomic<int> socket_fd_{-1};  // the session's, for the keeper; -1 without one
  std::atomic<bool> done_{false};
  uint64_t next_tag_ = 0;
  std::vector<Job> taken_ = std::vector<Job>(kTakeBatch);
  std::vector<Job> confirmed_;
  Clock::time_point pause_until_{};
};

Status Relay::OpenWorker(uint32_t wait_ms) {
  WorkerOptions wo;
  wo.queue = o_.queue;
  wo.wait_for_daemon_ms = wait_ms;
  std::unique_ptr<Worker> w;
  Status s = Worker::Open(wo, &w);
  std::lock_guard<std::mutex> lock(mu_);
  worker_ = std::move(w);
  return s;
}

bool Relay::Connect() {
  SessionOptions so;
  so.heartbeat_s = o_.heartbeat_s;
  so.connection_name = "taskring relay " + builder_.origin() + " -> " + o_.to;
  std::unique_ptr<AmqpSession> s;
  Status st = AmqpSession::Open(o_.broker, so, &s);
  if (st.ok() && o_.declare) st = s->Declare({o_.to, o_.quorum});
  if (st.ok()) st = s->EnableConfirms();
  if (!st.ok()) {
    SleepMs(reconnects_.Failed(st, "not taking jobs, "));
    return false;
  }
  session_ = std::move(s);
  socket_fd_.store(session_->fd());
  next_tag_ = 0;
  LogEvent("%s %s, publishing to queue %s with confirms (up to %u in flight)",
           reconnects_.Connected(), o_.broker.Redacted().c_str(), o_.to.c_str(), o_.in_flight);
  return true;
}

Status Relay::Run() {
  Status s = OpenWorker(o_.wait_for_daemon_ms);
  if (!s.ok()) return s;
  confirmed_.reserve(o_.in_flight);
  std::thread keeper([this] { KeepLeases(); });
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!worker_) {
      // The local daemon went away (restart): its jobs come back to whoever takes them next.
      if (!OpenWorker(1000).ok()) continue;
      LogEvent("attached to the local queue again");
    }
    if (!session_ && !Connect()) continue;
    (void)Pump();
  }
  // Stopping: take no more, give the broker a moment to confirm what it has, give back the rest.
  const Clock::time_point give_up = Clock::now() + std::chrono::milliseconds(kDrainOnStopMs);
  while (session_ && !window_.empty() && Clock::now() < give_up) {
    if (!ReadConfirms(kConfirmWaitMs)) break;
  }
  GiveBackAll();
  socket_fd_.store(-1);
  if (session_) session_->Close();
  done_.store(true);
  keeper.join();
  return Status::OK();
}

bool Relay::Pump() {
  const size_t room = o_.in_flight - std::min<size_t>(window_.size(), o_.in_flight);
  size_t taken = 0;
  if (room > 0 && Clock::now() >= pause_until_) {
    const size_t want = std::min(room, kTakeBatch);
    Status s = worker_->TakeMany(std::span<Job>(taken_.data(), want), &taken,
                                 window_.empty() ? kIdleTakeMs : 0);
    if (s.IsClosed()) {
      LogEvent("the local daemon stopped; %zu job(s) in flight are handed out again by the next",
               window_.size());
      std::lock_guard<std::mutex> lock(mu_);
      window_.clear();  // their leases ended with the daemon
      m_->in_flight->Set(0);
      worker_.reset();
      return true;
    }
    if (!s.ok() && !s.IsTimedOut()) {
      LogEvent("taking jobs failed: %s", s.ToString().c_str());
      SleepMs(100);
      return true;
    }
    if (s.IsTimedOut()) taken = 0;
    if (taken > 0 && !Publish(std::span<Job>(taken_.data(), taken))) return false;
  } else if (window_.empty()) {
    SleepMs(20);  // paused after a return, nothing to wait for
  }
  // Wait for confirms only when nothing else can be done: the window is full or the take
  // found nothing (and already waited).
  const bool wait = !window_.empty() && (taken == 0 || window_.size() >= o_.in_flight);
  return ReadConfirms(wait ? kConfirmWaitMs : 0);
}

bool Relay::Publish(std::span<Job> jobs) {
  // Into the window before the first publish: a publish can block for as long as the broker
  // does not read, and the lease keeper renews only what is in the window. Tag 0 = not sent.
  const size_t first = window_.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job& job : jobs) window_.push_back({0, std::move(job), Clock::now()});
  }
  for (size_t i = first; i < window_.size(); ++i) {
    InFlight& f = window_[i];
    Status s = session_->Publish(o_.exchange, o_.routing_key.empty() ? o_.to : o_.routing_key,
                                 builder_.Build(f.job), f.job.payload());
    if (!s.ok()) {
      LoseSession(s);  // gives back the window, sent or not
      return false;
    }
    f.tag = ++next_tag_;
  }
  m_->published->Increment(static_cast<double>(jobs.size()));
  m_->in_flight->Set(static_cast<double>(window_.size()));
  return true;
}

bool Relay::ReadConfirms(uint32_t wait_ms) {
  for (;;) {
    amqp_frame_t frame;
    Status s = session_->WaitFrame(wait_ms, &frame);
    wait_ms = 0;  // after the first frame, only what has already arrived
    if (s.IsTimedOut()) break;
    if (!s.ok()) {
      LoseSession(s);
      return false;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const amqp_method_t& m = frame.payload.method;
    if (m.id == AMQP_BASIC_ACK_METHOD) {
      const auto* ack = static_cast<const amqp_basic_ack_t*>(m.decoded);
      OnConfirm(ack->delivery_tag, ack->multiple != 0, InFlight::Fate::kConfirmed);
    } else if (m.id == AMQP_BASIC_NACK_METHOD) {
      const auto* nack = static_cast<const amqp_basic_nack_t*>(m.decoded);
      OnConfirm(nack->delivery_tag, nack->multiple != 0, InFlight::Fate::kNacked);
    } else if (m.id == AMQP_BASIC_RETURN_METHOD) {
      const auto* ret = static_cast<const amqp_basic_return_t*>(m.decoded);
      const std::string why(static_cast<const char*>(ret->reply_text.bytes), ret->reply_text.len);
      if (!OnReturn()) return false;
      LogEvent(
          "RabbitMQ returned a message as unroutable (%s: exchange '%s', routing key '%s');"
          " jobs go back to the queue, publishing paused",
          why.c_str(), o_.exchange.c_str(),
          (o_.routing_key.empty() ? o_.to : o_.routing_key).c_str());
    } else if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
      const auto* c = static_cast<const amqp_channel_close_t*>(m.decoded);
      LoseSession(Status::IOError("the broker closed the channel: " +
                                  ReplyText(c->reply_code, c->reply_text)));
      return false;
    } else if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
      const auto* c = static_cast<const amqp_connection_close_t*>(m.decoded);
      LoseSession(Status::IOError("the broker closed the connection: " +
                                  ReplyText(c->reply_code, c->reply_text)));
      return false;
    }
  }
  Settle();
  return true;
}

void Relay::OnConfirm(uint64_t tag, bool multiple, InFlight::Fate fate) {
  for (InFlight& f : window_) {
    if (f.tag > tag || f.tag == 0) break;  // 0: not sent (yet)
    if ((multiple || f.tag == tag) && f.fate == InFlight::Fate::kWaiting) f.fate = fate;
    // A returned message is acked after its return: it stays returned.
  }
}

bool Relay::OnReturn() {
  amqp_message_t msg;
  Status s = session_->ReadContent(&msg);
  if (!s.ok()) {
    LoseSession(s);
    return false;
  }
  const std::string_view id(static_cast<const char*>(msg.properties.message_id.bytes),
                            msg.properties.message_id.len);
  const uint64_t job_id = JobIdOfMessageId(id, builder_.origin());
  amqp_destroy_message(&msg);
  for (InFlight& f : window_) {
    if (f.job.id() == job_id && f.fate == InFlight::Fate::kWaiting)
      f.fate = InFlight::Fate::kReturned;
  }
  // Publishing again at once would loop: wait as after a lost connection.
  pause_until_ = Clock::now() + std::chrono::milliseconds(return_backoff_.NextMs());
  return true;
}

void Relay::Settle() {
  confirmed_.clear();
  std::unique_lock<std::mutex> lock(mu_);
  while (!window_.empty() && window_.front().fate != InFlight::Fate::kWaiting) {
    InFlight& f = window_.front();
    if (f.fate == InFlight::Fate::kConfirmed) {
      return_backoff_.Reset();  // routable again
      m_->confirm_seconds->Observe(SecondsSince(f.published));
      const uint64_t now_ns = static_cast<uint64_t>(
          std::chrono::system_clock::now().time_since_epoch() / std::chrono::nanoseconds(1));
      if (now_ns > f.job.enqueued_unix_ns()) {
        m_->lag_seconds->Observe(static_cast<double>(now_ns - f.job.enqueued_unix_ns()) / 1e9);
      }
      confirmed_.push_back(std::move(f.job));
    } else {
      (f.fate == InFlight::Fate::kNacked ? m_->nacked : m_->returned)->Increment();
      m_->released->Increment();
      (void)worker_->Release(f.job);  // StaleLease: already handed out again; nothing to do
    }
    window_.pop_front();
  }
  lock.unlock();
  if (!confirmed_.empty()) {
    // StaleLease for a job whose lease ran out while it waited: it runs again and is published
    // twice, which the message id lets a consumer (the bridge) deduplicate.
    Status s = worker_->CompleteMany(confirmed_);
    if (!s.ok()) LogEvent("completing confirmed jobs failed: %s", s.ToString().c_str());
    m_->confirmed->Increment(static_cast<double>(confirmed_.size()));
  }
  m_->in_flight->Set(static_cast<double>(window_.size()));
}

void Relay::KeepLeases() {
  Clock::time_point last = Clock::now();
  Clock::time_point stop_seen{};
  bool shut = false;
  while (!done_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stop_.load(std::memory_order_relaxed) && !shut) {
      if (stop_seen == Clock::time_point{}) stop_seen = Clock::now();
      const int fd = socket_fd_.load();
      if (Clock::now() - stop_seen > std::chrono::milliseconds(kStuckOnStopMs) && fd >= 0) {
        LogEvent("stopping: a publish is stuck on the broker; closing the connection");
        ::shutdown(fd, SHUT_RDWR);
        shut = true;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!worker_) continue;
    const auto period = std::chrono::milliseconds(std::max<uint32_t>(worker_->lease_ms() / 3, 1));
    const Clock::time_point now = Clock::now();
    if (now - last < period) continue;
    last = now;
    for (const InFlight& f : window_) {
      if (now - f.published >= period) (void)worker_->Touch(f.job);
    }
  }
}

void Relay::LoseSession(const Status& why) {
  LogEvent(
      "lost the connection to RabbitMQ: %s; giving %zu unconfirmed job(s) back to the "
      "queue, reconnecting",
      why.ToString().c_str(), window_.size());
  socket_fd_.store(-1);
  session_.reset();
  reconnects_.Lost();
  GiveBackAll();
}

void Relay::GiveBackAll() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!worker_) return;
  for (const InFlight& f : window_) (void)worker_->Release(f.job);
  m_->released->Increment(static_cast<double>(window_.size()));
  window_.clear();
  m_->in_flight->Set(0);
}

void Relay::SleepMs(uint32_t ms) {
  const Clock::time_point end = Clock::now() + std::chrono::milliseconds(ms);
  while (!stop_.load(std::memory_order_relaxed) && Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint32_t>(ms, 20)));
  }
}

}  // namespace

Status RunRelay(const RelayOptions& options, RelayMetrics* metrics, const std::atomic<bool>& stop) {
  if (options.in_flight == 0) return Status::InvalidArgument("--in-flight must be at least 1");
  Relay relay(options, metrics, stop);
  return relay.Run();
}

}  // namespace taskring::amqp
