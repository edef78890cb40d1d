// One connection to RabbitMQ with one channel, over rabbitmq-c (librabbitmq): what the relay
// publishes on (with publisher confirms) and the bridge consumes from (with manual acks).
//
// rabbitmq-c is single-threaded: a session belongs to one thread. It answers the broker's
// heartbeats and sends its own whenever the session reads or waits (WaitFrame, NextDelivery), so
// a caller must call one of them at least every heartbeat/2 seconds. Any error other than a
// timeout leaves the session unusable: the caller drops it and opens a new one.
#ifndef TASKRING_AMQP_AMQP_SESSION_H_
#define TASKRING_AMQP_AMQP_SESSION_H_

#include <amqp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "amqp/amqp_endpoint.h"
#include "taskring/status.h"

namespace taskring::amqp {

struct SessionOptions {
  uint32_t heartbeat_s = 30;
  uint32_t connect_timeout_ms = 5000;
  std::string connection_name;  // shown in the broker's management UI and rabbitmqctl
};

// How the relay and the bridge declare their queue: durable, and replicated by Raft (a quorum
// queue) unless the operator declared it otherwise and says so.
struct QueueDeclaration {
  std::string name;
  bool quorum = true;
};

// A delivery taken by NextDelivery; its bytes stay valid until the next call on the session.
struct Delivery {
  uint64_t tag = 0;
  bool redelivered = false;
  const amqp_basic_properties_t* properties = nullptr;
  std::string_view body;
};

class AmqpSession {
 public:
  static Status Open(const AmqpEndpoint& endpoint, const SessionOptions& options,
                     std::unique_ptr<AmqpSession>* out);
  ~AmqpSession();
  AmqpSession(const AmqpSession&) = delete;
  AmqpSession& operator=(const AmqpSession&) = delete;

  Status Declare(const QueueDeclaration& queue);
  // Publisher confirms: every later publish is acked or nacked by delivery tag (1, 2, ...).
  Status EnableConfirms();
  // Publishes persistently; mandatory: an unroutable message comes back as basic.return.
  Status Publish(const std::string& exchange, const std::string& routing_key,
                 const amqp_basic_properties_t& properties, std::string_view body);
  // Waits up to timeout_ms for a frame on the channel (0: only what is already there).
  // TimedOut when none came.
  Status WaitFrame(uint32_t timeout_ms, amqp_frame_t* frame);
  // Reads the content (header and body frames) after a basic.return or basic.deliver method.
  Status ReadContent(amqp_message_t* message);

  Status Qos(uint16_t prefetch);
  Status Consume(const std::string& queue);
  // Waits up to timeout_ms for the next delivery of Consume. TimedOut when none came.
  Status NextDelivery(uint32_t timeout_ms, Delivery* out);
  Status Ack(uint64_t tag, bool multiple);
  // Refuses a delivery for good (no requeue): the broker dead-letters it if the queue has a
  // dead-letter exchange, and drops it otherwise.
  Status Reject(uint64_t tag);

  // The socket, for the relay's lease keeper to shut down a publish stuck on a broker that
  // stopped reading (rabbitmq-c waits for a write without a bound).
  [[nodiscard]] int fd() const { return amqp_get_sockfd(conn_); }
  // Closes the channel and connection politely (best effort).
  void Close();

 private:
  explicit AmqpSession(amqp_connection_state_t conn) : conn_(conn) {}
  // A failed RPC or library call as a Status, with the broker's reply text when it sent one.
  Status Failure(const char* what, const amqp_rpc_reply_t& reply);
  Status Check(const char* what);  // the last RPC's reply

  amqp_connection_state_t conn_;
  amqp_envelope_t envelope_{};
  bool envelope_held_ = false;
  bool closed_ = false;
};

}  // namespace taskring::amqp

#endif  // TASKRING_AMQP_AMQP_SESSION_H_
