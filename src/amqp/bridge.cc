#include "amqp/bridge.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "amqp/amqp_session.h"
#include "amqp/message_mapping.h"
#include "amqp/reconnects.h"
#include "daemon/log.h"
#include "taskring/producer.h"

namespace taskring::amqp {
namespace {

using Clock = std::chrono::steady_clock;
using daemon::LogEvent;

constexpr uint32_t kIdleWaitMs = 200;  // a wait for the first delivery of a round

uint64_t NowUnixNs() {
  return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                               std::chrono::nanoseconds(1));
}

// Text from a message (its id, or a reason naming its type or a header) for the log: any
// publisher sets it, so bytes outside printable ASCII are shown as '?' and it is cut, and a
// hostile message cannot forge log lines.
std::string Printable(std::string_view text, size_t max = 160) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

// A delivery in hand: copied out of the session's buffers, which the next read reuses.
struct Held {
  uint64_t tag;
  std::string body;
  MappedJob job;
};

class Bridge {
 public:
  Bridge(const BridgeOptions& o, BridgeMetrics* m, const std::atomic<bool>& stop)
      : o_(o), m_(m), stop_(stop), reconnects_(m->connection, o.max_backoff_ms) {}
  Status Run();

 private:
  Status OpenProducer(uint32_t wait_ms);
  bool Connect();
  // Reads deliveries into held_ until none is waiting or the prefetch is in hand. False when
  // the session was lost.
  bool Receive(uint32_t wait_ms);
  // Enqueues everything held; acks what was accepted, rejects what never can be. Returns the
  // wait before the next try when some are still held (BUSY, daemon away), else 0.
  uint32_t EnqueueHeld();
  // Acks the accepted messages of one EnqueueHeld: one multiple ack for the run of them at the
  // front of held_ (the oldest unsettled deliveries), one ack each for those after a message
  // still held. False when the session was lost.
  bool AckAccepted(const std::vector<uint64_t>& accepted_tags, size_t front_run);
  void LoseSession(const Status& why);
  void SleepMs(uint32_t ms);

  const BridgeOptions& o_;
  BridgeMetrics* m_;
  const std::atomic<bool>& stop_;
  Reconnects reconnects_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<AmqpSession> session_;
  std::vector<Held> held_;
  std::vector<EnqueueItem> items_;
  std::vector<EnqueueResult> results_;
  std::vector<uint64_t> accepted_tags_;
};

Status Bridge::OpenProducer(uint32_t wait_ms) {
  ProducerOptions po;
  po.queue = o_.queue;
  po.wait_for_daemon_ms = wait_ms;
  return Producer::Open(po, &producer_);
}

bool Bridge::Connect() {
  SessionOptions so;
  so.heartbeat_s = o_.heartbeat_s;
  so.connection_name = "taskring bridge " + o_.from + " -> " + o_.queue;
  std::unique_ptr<AmqpSession> s;
  Status st = AmqpSession::Open(o_.broker, so, &s);
  if (st.ok() && o_.declare) st = s->Declare({o_.from, o_.quorum});
  if (st.ok()) st = s->Qos(static_cast<uint16_t>(o_.prefetch));
  if (st.ok()) st = s->Consume(o_.from);
  if (!st.ok()) {
    SleepMs(reconnects_.Failed(st, ""));
    return false;
  }
  session_ = std::move(s);
  LogEvent("%s %s, consuming queue %s (prefetch %u)", reconnects_.Connected(),
           o_.broker.Redacted().c_str(), o_.from.c_str(), o_.prefetch);
  return true;
}

Status Bridge::Run() {
  Status s = OpenProducer(o_.wait_for_daemon_ms);
  if (!s.ok()) return s;
  uint32_t retry_ms = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!producer_ && !OpenProducer(1000).ok()) continue;  // the local daemon is restarting
    if (!session_ && !Connect()) continue;
    // With messages held, wait out the retry hint while reading (heartbeats, and deliveries up
    // to the prefetch); with none, wait for the first delivery.
    const Clock::time_point until = Clock::now() + std::chrono::milliseconds(retry_ms);
    if (!Receive(held_.empty() ? kIdleWaitMs : retry_ms)) continue;
    while (retry_ms != 0 && Clock::now() < until && !stop_.load(std::memory_order_relaxed)) {
      SleepMs(5);
    }
    retry_ms = held_.empty() ? 0 : EnqueueHeld();
    m_->held->Set(static_cast<double>(held_.size()));
  }
  if (session_) session_->Close();  // what is held but not acked is redelivered to another
  return Status::OK();
}

bool Bridge::Receive(uint32_t wait_ms) {
  // At least one read per round, even with the prefetch in hand (the broker then sends no
  // delivery): rabbitmq-c answers heartbeats only while it reads, and a long BUSY must not
  // cost the connection.
  for (bool first = true; first || held_.size() < o_.prefetch; first = false) {
    Delivery d;
    Status s = session_->NextDelivery(wait_ms, &d);
    wait_ms = 0;
    if (s.IsTimedOut()) return true;
    if (!s.ok()) {
      LoseSession(s);
      return false;
    }
    m_->received->Increment();
    Held h{d.tag, std::string(d.body), {}};
    Status mapped = MapDelivery(*d.properties, &h.job);
    if (!mapped.ok()) {
      const std::string id = Printable(std::string_view(
          static_cast<const char*>(d.properties->message_id.bytes), d.properties->message_id.len));
      LogEvent("message '%s' cannot be a job: %s; rejected", id.c_str(),
               Printable(mapped.ToString(), 400).c_str());
      m_->rejected->Increment();
      if (!session_->Reject(d.tag).ok()) {
        LoseSession(Status::IOError("cannot reject a message"));
        return false;
      }
      continue;
    }
    held_.push_back(std::move(h));
  }
  return true;
}

uint32_t Bridge::EnqueueHeld() {
  items_.resize(held_.size());
  results_.resize(held_.size());
  for (size_t i = 0; i < held_.size(); ++i) items_[i] = {held_[i].body, &held_[i].job.options};
  Status call = producer_->EnqueueBatch(items_, results_);
  const uint64_t now_ns = NowUnixNs();
  size_t kept = 0;
  bool busy = false;
  Status session_error, why_kept;
  // Accepted tags in delivery order; the first `front_run` of them precede every message kept.
  accepted_tags_.clear();
  size_t front_run = 0;
  for (size_t i = 0; i < held_.size(); ++i) {
    const EnqueueResult& r = results_[i];
    Held& h = held_[i];
    if (r.status.ok()) {
      m_->accepted->Increment();
      if (r.duplicate) {
        m_->duplicates->Increment();
      } else if (h.job.origin_enqueued_unix_ns != 0 && now_ns > h.job.origin_enqueued_unix_ns) {
        m_->lag_seconds->Observe(static_cast<double>(now_ns - h.job.origin_enqueued_unix_ns) / 1e9);
      }
      accepted_tags_.push_back(h.tag);
      if (kept == 0) front_run = accepted_tags_.size();
      continue;
    }
    if (r.status.IsInvalidArgument()) {
      LogEvent("message '%s' cannot be a job: %s; rejected",
               Printable(h.job.options.idempotency_key).c_str(),
               Printable(r.status.ToString(), 400).c_str());
      m_->rejected->Increment();
      if (session_error.ok()) session_error = session_->Reject(h.tag);
      continue;
    }
    busy |= r.status.IsBusy();
    if (why_kept.ok()) why_kept = r.status;
    if (kept != i) held_[kept] = std::move(h);
    ++kept;
  }
  held_.resize(kept);
  if (!session_error.ok() || !AckAccepted(accepted_tags_, front_run)) {
    LoseSession(session_error.ok() ? Status::IOError("cannot ack to the broker") : session_error);
    return 0;
  }
  if (kept == 0) return 0;
  if (busy) {
    m_->busy->Increment(static_cast<double>(kept));
    return std::clamp<uint32_t>(producer_->RetryAfterMs(), 5, 1000);
  }
  // Not BUSY: the daemon is stopping, gone, or cannot write. Keep the messages (unacked, the
  // broker still has them) and try again after a backoff; a closed daemon is reattached.
  LogEvent("cannot enqueue %zu message(s): %s; holding them, retrying", kept,
           why_kept.ToString().c_str());
  if (call.IsClosed() || why_kept.IsClosed()) producer_.reset();
  return 1000;
}

bool Bridge::AckAccepted(const std::vector<uint64_t>& accepted_tags, size_t front_run) {
  // held_ holds every unsettled delivery of the channel in tag order (rejects are settled at
  // once), so a multiple ack of the front run's last tag settles exactly that run. For a quorum
  // queue each ack frame is a Raft command: one per batch instead of one per message spares the
  // broker the work that otherwise slows its confirms to the relay.
  if (front_run > 0 && !session_->Ack(accepted_tags[front_run - 1], /*multiple=*/true).ok()) {
    return false;
  }
  for (size_t i = front_run; i < accepted_tags.size(); ++i) {
    if (!session_->Ack(accepted_tags[i], /*multiple=*/false).ok()) return false;
  }
  return true;
}

void Bridge::LoseSession(const Status& why) {
  LogEvent(
      "lost the connection to RabbitMQ: %s; %zu unacked message(s) in hand are redelivered "
      "by the broker, reconnecting",
      why.ToString().c_str(), held_.size());
  session_.reset();
  held_.clear();
  m_->held->Set(0);
  reconnects_.Lost();
}

void Bridge::SleepMs(uint32_t ms) {
  const Clock::time_point end = Clock::now() + std::chrono::milliseconds(ms);
  while (!stop_.load(std::memory_order_relaxed) && Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint32_t>(ms, 20)));
  }
}

}  // namespace

Status RunBridge(const BridgeOptions& options, BridgeMetrics* metrics,
                 const std::atomic<bool>& stop) {
  if (options.prefetch == 0 || options.prefetch > 65535) {
    return Status::InvalidArgument("--prefetch must be 1..65535");
  }
  Bridge bridge(options, metrics, stop);
  return bridge.Run();
}

}  // namespace taskring::amqp
