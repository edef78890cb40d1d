// How a link (the relay or the bridge) goes through connection attempts: each failure counted,
// logged without flooding (OutageLog) and followed by a backoff; each success counted as a
// reconnect unless it is the first, and shown in the `connected` gauge.
#ifndef TASKRING_AMQP_RECONNECTS_H_
#define TASKRING_AMQP_RECONNECTS_H_

#include <cstdint>
#include <string>

#include "amqp/backoff.h"
#include "amqp/link_metrics.h"
#include "amqp/outage_log.h"
#include "daemon/log.h"
#include "taskring/status.h"

namespace taskring::amqp {

class Reconnects {
 public:
  Reconnects(const ConnectionMetrics& metrics, uint32_t max_backoff_ms)
      : m_(metrics), backoff_(100, max_backoff_ms) {}

  // A failed attempt; `meanwhile` says what the link does until the next ("not taking jobs").
  // Returns how long to wait before it.
  uint32_t Failed(const Status& why, const char* meanwhile) {
    m_.connect_failures->Increment();
    const uint32_t delay = backoff_.NextMs();
    if (log_.ShouldLog(why.ToString())) {
      daemon::LogEvent("cannot reach RabbitMQ: %s; %sretrying with backoff (next in %u ms)",
                       why.ToString().c_str(), meanwhile, delay);
    }
    return delay;
  }
  // A session opened. Returns "connected to" or "reconnected to", for the link's log line.
  const char* Connected() {
    backoff_.Reset();
    log_.Reset();
    m_.connected->Set(1);
    if (!ever_connected_) {
      ever_connected_ = true;
      return "connected to";
    }
    m_.reconnects->Increment();
    return "reconnected to";
  }
  void Lost() { m_.connected->Set(0); }

 private:
  ConnectionMetrics m_;
  Backoff backoff_;
  OutageLog log_;
  bool ever_connected_ = false;
};

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_RECONNECTS_H_
