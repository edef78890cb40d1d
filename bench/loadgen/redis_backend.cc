// The load tool's Redis backend: a list as a queue (LPUSH in, BRPOP out), through hiredis, the
// way most Redis job queues work. Redis has no acknowledgement: a popped item is gone.
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <cstdio>
#include <mutex>
#include <vector>

#include "loadgen/backend.h"

namespace taskring::loadgen {
namespace {

constexpr int kConnectTimeoutMs = 2000;
// A server that sends nothing for this long (beyond a BRPOP's own wait) is treated as gone,
// rather than hanging the load tool.
constexpr uint32_t kReplyTimeoutMs = 10000;

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;
using Reply = std::unique_ptr<redisReply, ReplyFree>;

timeval ToTimeval(uint64_t ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

// hiredis writes with write(2), so a server that went away raises SIGPIPE, which would kill the
// load tool. Ignore it (once, and only if nobody installed a handler): the write then fails with
// EPIPE and hiredis reports it.
void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

// One connection per sender or receiver, like one client per application thread.
class Connection {
 public:
  Status Open(const Target& t) {
    where_ = "redis " + t.host + ":" + std::to_string(t.port);
    if (t.queue.empty()) return Status::InvalidArgument(where_ + ": empty list name");
    if (t.port <= 0 || t.port > 65535) return Status::InvalidArgument(where_ + ": bad port");
    IgnoreSigpipe();
    ctx_.reset(redisConnectWithTimeout(t.host.c_str(), t.port, ToTimeval(kConnectTimeoutMs)));
    if (!ctx_) return Status::IOError(where_ + ": cannot allocate a connection");
    if (ctx_->err) return Status::IOError(where_ + ": " + ctx_->errstr);
    return SetReplyTimeout(kReplyTimeoutMs);
  }

  // hiredis gives no per-command timeout: it is the socket's, so set it only when it changes.
  Status SetReplyTimeout(uint64_t ms) {
    if (ms == timeout_ms_) return Status::OK();
    if (redisSetTimeout(ctx_.get(), ToTimeval(ms)) != REDIS_OK) return Failed();
    timeout_ms_ = ms;
    return Status::OK();
  }

  // hiredis marks the context failed for good (I/O error, timeout, protocol error).
  Status Failed() const {
    return Status::IOError(where_ + ": " + (ctx_->err ? ctx_->errstr : "connection failed"));
  }

  redisContext* get() const { return ctx_.get(); }
  const std::string& where() const { return where_; }

 private:
  Context ctx_;
  std::string where_;
  uint64_t timeout_ms_ = 0;
};

class RedisSender : public Sender {
 public:
  RedisSender(Connection conn, const Target& t)
      : conn_(std::move(conn)), key_(t.queue), max_payload_(t.max_payload) {}

  Status Send(std::span<const std::string_view> payloads, std::span<SendOutcome> out) override {
    redisContext* c = conn_.get();
    sent_.clear();
    for (size_t i = 0; i < payloads.size(); ++i) {
      out[i] = SendOutcome::kError;
      // The same payload limit as every other backend (Redis itself takes up to 512 MB).
      if (payloads[i].size() > max_payload_) continue;
      if (redisAppendCommand(c, "LPUSH %b %b", key_.data(), key_.size(), payloads[i].data(),
                             payloads[i].size()) == REDIS_OK) {
        sent_.push_back(i);
      }
    }
    // The first read writes the whole pipeline; Redis buffers its replies, so it never stalls.
    Status result;
    for (size_t i : sent_) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) return conn_.Failed();
      Reply r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_INTEGER) {
        out[i] = SendOutcome::kAccepted;
      } else if (r->type != REDIS_REPLY_ERROR && result.ok()) {
        // Still one reply per command, so the stream is in step; report it after the batch.
        result = Status::Corruption(conn_.where() + ": LPUSH answered with reply type " +
                                    std::to_string(r->type));
      }
      // An error reply (OOM, WRONGTYPE ...) refuses this payload only.
    }
    return result;
  }

 private:
  Connection conn_;
  std::string key_;
  uint32_t max_payload_;
  std::vector<size_t> sent_;
};

class RedisReceiver : public Receiver {
 public:
  RedisReceiver(Connection conn, const Target& t)
      : conn_(std::move(conn)), key_(t.queue), max_payload_(t.max_payload) {}

  Status Receive(std::string* payload, uint32_t timeout_ms) override {
    redisContext* c = conn_.get();
    void* raw;
    if (timeout_ms == 0) {
      // BRPOP 0 would block forever: a zero wait is a plain RPOP.
      raw = redisCommand(c, "RPOP %b", key_.data(), key_.size());
    } else {
      Status s = conn_.SetReplyTimeout(uint64_t{timeout_ms} + kReplyTimeoutMs);
      if (!s.ok()) return s;
      // Redis >= 6 takes a decimal timeout in seconds.
      char secs[32];
      std::snprintf(secs, sizeof(secs), "%u.%03u", timeout_ms / 1000, timeout_ms % 1000);
      raw = redisCommand(c, "BRPOP %b %s", key_.data(), key_.size(), secs);
    }
    if (raw == nullptr) return conn_.Failed();
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_NIL) return Status::TimedOut();
    if (r->type == REDIS_REPLY_ERROR) {
      return Status::IOError(conn_.where() + ": " + std::string(r->str, r->len));
    }
    const redisReply* item = r.get();
    if (timeout_ms != 0) {
      // BRPOP answers [list name, item].
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1] == nullptr) {
        return Status::Corruption(conn_.where() + ": malformed BRPOP reply");
      }
      item = r->element[1];
    }
    if (item->type != REDIS_REPLY_STRING) {
      return Status::Corruption(conn_.where() + ": popped item is not a string");
    }
    if (item->len > max_payload_) {
      return Status::Corruption(conn_.where() + ": popped item of " + std::to_string(item->len) +
                                " bytes exceeds the payload limit");
    }
    payload->assign(item->str, item->len);
    return Status::OK();
  }

  Status Ack() override { return Status::OK(); }  // popped is gone: nothing to acknowledge

 private:
  Connection conn_;
  std::string key_;
  uint32_t max_payload_;
};

}  // namespace

Status MakeRedisSender(const Target& t, std::unique_ptr<Sender>* out) {
  Connection conn;
  Status s = conn.Open(t);
  if (s.ok()) *out = std::make_unique<RedisSender>(std::move(conn), t);
  return s;
}

Status MakeRedisReceiver(const Target& t, std::unique_ptr<Receiver>* out) {
  Connection conn;
  Status s = conn.Open(t);
  if (s.ok()) *out = std::make_unique<RedisReceiver>(std::move(conn), t);
  return s;
}

}  // namespace taskring::loadgen
