#include "amqp/amqp_session.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

namespace taskring::amqp {
namespace {

timeval TimevalOf(uint32_t ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>(ms % 1000) * 1000;
  return tv;
}

amqp_bytes_t BytesOf(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string TextOf(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

// A socket over TLS when the URL is amqps or a CA is given, verifying the broker by default.
Status NewSocket(amqp_connection_state_t conn, const AmqpEndpoint& ep, amqp_socket_t** out) {
  if (!ep.tls) {
    *out = amqp_tcp_socket_new(conn);
    return *out != nullptr ? Status::OK() : Status::IOError("cannot create a TCP socket");
  }
  amqp_socket_t* s = amqp_ssl_socket_new(conn);
  if (s == nullptr) return Status::IOError("cannot create a TLS socket");
  const TlsFiles& f = ep.tls_files;
  if (!f.ca_cert.empty() && amqp_ssl_socket_set_cacert(s, f.ca_cert.c_str()) != AMQP_STATUS_OK) {
    return Status::InvalidArgument("cannot load the CA certificate " + f.ca_cert);
  }
  if (!f.client_cert.empty() &&
      amqp_ssl_socket_set_key(s, f.client_cert.c_str(), f.client_key.c_str()) != AMQP_STATUS_OK) {
    return Status::InvalidArgument("cannot load the client certificate " + f.client_cert +
                                   " and key " + f.client_key);
  }
  amqp_ssl_socket_set_verify_peer(s, 1);
  amqp_ssl_socket_set_verify_hostname(s, f.verify_hostname ? 1 : 0);
  *out = s;
  return Status::OK();
}

}  // namespace

Status AmqpSession::Open(const AmqpEndpoint& ep, const SessionOptions& options,
                         std::unique_ptr<AmqpSession>* out) {
  amqp_connection_state_t conn = amqp_new_connection();
  if (conn == nullptr) return Status::IOError("cannot allocate an AMQP connection");
  std::unique_ptr<AmqpSession> session(new AmqpSession(conn));
  amqp_socket_t* socket = nullptr;
  Status s = NewSocket(conn, ep, &socket);
  if (!s.ok()) return s;
  timeval connect_tv = TimevalOf(options.connect_timeout_ms);
  const int rc = amqp_socket_open_noblock(socket, ep.host.c_str(), ep.port, &connect_tv);
  if (rc != AMQP_STATUS_OK) {
    return Status::IOError("cannot connect to " + ep.Redacted() + ": " + amqp_error_string2(rc));
  }
  // Every RPC (declare, qos, close) gives up after this long instead of hanging on a stuck
  // broker.
  timeval rpc_tv = TimevalOf(options.connect_timeout_ms);
  amqp_set_rpc_timeout(conn, &rpc_tv);
  amqp_table_entry_t name_entry;
  name_entry.key = amqp_cstring_bytes("connection_name");
  name_entry.value.kind = AMQP_FIELD_KIND_UTF8;
  name_entry.value.value.bytes = BytesOf(options.connection_name);
  amqp_table_t client_properties{options.connection_name.empty() ? 0 : 1, &name_entry};
  const amqp_rpc_reply_t login = amqp_login_with_properties(
      conn, ep.vhost.c_str(), 0, 131072, static_cast<int>(options.heartbeat_s), &client_properties,
      AMQP_SASL_METHOD_PLAIN, ep.user.c_str(), ep.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    return session->Failure(("login to " + ep.Redacted()).c_str(), login);
  }
  amqp_channel_open(conn, 1);
  s = session->Check("channel.open");
  if (!s.ok()) return s;
  *out = std::move(session);
  return Status::OK();
}

AmqpSession::~AmqpSession() {
  if (envelope_held_) amqp_destroy_envelope(&envelope_);
  amqp_destroy_connection(conn_);
}

Status AmqpSession::Failure(const char* what, const amqp_rpc_reply_t& reply) {
  std::string why;
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NONE: why = "no reply"; break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: why = amqp_error_string2(reply.library_error); break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        why = "the broker closed the connection: " + std::to_string(m->reply_code) + " " +
              TextOf(m->reply_text);
      } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        why = "the broker closed the channel: " + std::to_string(m->reply_code) + " " +
              TextOf(m->reply_text);
      } else {
        why = "unexpected broker method " + std::to_string(reply.reply.id);
      }
      break;
    default: why = "unknown reply"; break;
  }
  closed_ = true;  // any failure ends the session (see the header)
  return Status::IOError(std::string(what) + ": " + why);
}

Status AmqpSession::Check(const char* what) {
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn_);
  return reply.reply_type == AMQP_RESPONSE_NORMAL ? Status::OK() : Failure(what, reply);
}

Status AmqpSession::Declare(const QueueDeclaration& queue) {
  amqp_table_entry_t type;
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  const amqp_table_t args{queue.quorum ? 1 : 0, &type};
  amqp_queue_declare(conn_, 1, BytesOf(queue.name), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, args);
  return Check(("declaring queue " + queue.name).c_str());
}

Status AmqpSession::EnableConfirms() {
  amqp_confirm_select(conn_, 1);
  return Check("confirm.select");
}

Status AmqpSession::Publish(const std::string& exchange, const std::string& routing_key,
                            const amqp_basic_properties_t& properties, std::string_view body) {
  const int rc = amqp_basic_publish(conn_, 1, BytesOf(exchange), BytesOf(routing_key),
                                    /*mandatory=*/1, /*immediate=*/0, &properties, BytesOf(body));
  if (rc != AMQP_STATUS_OK) {
    closed_ = true;
    return Status::IOError(std::string("publish: ") + amqp_error_string2(rc));
  }
  return Status::OK();
}

Status AmqpSession::WaitFrame(uint32_t timeout_ms, amqp_frame_t* frame) {
  amqp_maybe_release_buffers(conn_);
  timeval tv = TimevalOf(timeout_ms);
  const int rc = amqp_simple_wait_frame_noblock(conn_, frame, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return Status::TimedOut();
  if (rc != AMQP_STATUS_OK) {
    closed_ = true;
    return Status::IOError(std::string("reading from the broker: ") + amqp_error_string2(rc));
  }
  return Status::OK();
}

Status AmqpSession::ReadContent(amqp_message_t* message) {
  const amqp_rpc_reply_t reply = amqp_read_message(conn_, 1, message, 0);
  return reply.reply_type == AMQP_RESPONSE_NORMAL ? Status::OK()
                                                  : Failure("reading a message", reply);
}

Status AmqpSession::Qos(uint16_t prefetch) {
  amqp_basic_qos(conn_, 1, 0, prefetch, 0);
  return Check("basic.qos");
}

Status AmqpSession::Consume(const std::string& queue) {
  amqp_basic_consume(conn_, 1, BytesOf(queue), amqp_empty_bytes, /*no_local=*/0, /*no_ack=*/0,
                     /*exclusive=*/0, amqp_empty_table);
  return Check(("consuming from queue " + queue).c_str());
}

Status AmqpSession::NextDelivery(uint32_t timeout_ms, Delivery* out) {
  if (envelope_held_) {
    amqp_destroy_envelope(&envelope_);
    envelope_held_ = false;
  }
  amqp_maybe_release_buffers(conn_);
  timeval tv = TimevalOf(timeout_ms);
  const amqp_rpc_reply_t reply = amqp_consume_message(conn_, &envelope_, &tv, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    envelope_held_ = true;
    out->tag = envelope_.delivery_tag;
    out->redelivered = envelope_.redelivered != 0;
    out->properties = &envelope_.message.properties;
    out->body = std::string_view(static_cast<const char*>(envelope_.message.body.bytes),
                                 envelope_.message.body.len);
    return Status::OK();
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      reply.library_error == AMQP_STATUS_TIMEOUT) {
    return Status::TimedOut();
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    // A method other than a delivery: the broker closing the channel or cancelling the consumer
    // (its queue was deleted). Both end the session.
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(conn_, &frame) == AMQP_STATUS_OK &&
        frame.frame_type == AMQP_FRAME_METHOD) {
      if (frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
        closed_ = true;
        return Status::IOError("the broker cancelled the consumer (was the queue deleted?)");
      }
      if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
          frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_rpc_reply_t r{};
        r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
        r.reply = frame.payload.method;
        return Failure("consuming", r);
      }
      return Status::TimedOut();  // e.g. a stray basic.ack: nothing to deliver yet
    }
  }
  return Failure("consuming", reply);
}

Status AmqpSession::Ack(uint64_t tag, bool multiple) {
  const int rc = amqp_basic_ack(conn_, 1, tag, multiple ? 1 : 0);
  if (rc != AMQP_STATUS_OK) {
    closed_ = true;
    return Status::IOError(std::string("basic.ack: ") + amqp_error_string2(rc));
  }
  return Status::OK();
}

Status AmqpSession::Reject(uint64_t tag) {
  const int rc = amqp_basic_reject(conn_, 1, tag, /*requeue=*/0);
  if (rc != AMQP_STATUS_OK) {
    closed_ = true;
    return Status::IOError(std::string("basic.reject: ") + amqp_error_string2(rc));
  }
  return Status::OK();
}

void AmqpSession::Close() {
  if (closed_) return;
  closed_ = true;
  (void)amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
  (void)amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
}

}  // namespace taskring::amqp
