// The queues the load tool drives: taskring itself and the peers a user would pick instead.
// One interface, so every peer runs the very same workload: producers send batches of
// payloads, workers receive one job at a time and acknowledge it.
#ifndef TASKRING_LOADGEN_BACKEND_H_
#define TASKRING_LOADGEN_BACKEND_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "taskring/status.h"

namespace taskring::loadgen {

enum class BackendKind { kTaskring, kBoostMq, kRedis, kBeanstalkd };

// What each taskring job carries besides its payload (issue 12's job options), so the cost of
// each can be measured against plain jobs. The defaults are plain jobs: EnqueueOptions{} and
// workers that declare no type. Peers have no such options; the tool refuses them there.
struct JobOptions {
  int priority = -1;             // 0..9 for every job; -1: not set (the library's default, 5)
  bool random_priority = false;  // a random 0..9 per send (per job at batch 1, else per batch)
  std::string type;              // EnqueueOptions::type of every job; empty: untyped
  std::vector<std::string> worker_types;  // WorkerOptions::types of every worker
  uint32_t headers = 0;                   // this many small headers per job ("h0"="v0000000", ...)
  bool keyed = false;                     // each job enqueued alone (Enqueue) with a unique key
  uint64_t delay_ms = 0;                  // EnqueueOptions::delay_ms of every job
  uint32_t result_bytes = 0;  // workers complete each job with a result this long (issue 13)

  // Jobs sent, taken and checked as plain ones (how they are completed aside).
  bool plain_jobs() const {
    return priority < 0 && !random_priority && type.empty() && worker_types.empty() &&
           headers == 0 && !keyed && delay_ms == 0;
  }
  bool plain() const { return plain_jobs() && result_bytes == 0; }
};

struct Target {
  BackendKind kind = BackendKind::kTaskring;
  std::string queue;  // taskring queue, message_queue name, Redis list or beanstalkd tube
  std::string host = "127.0.0.1";
  int port = 0;  // Redis, beanstalkd
  uint32_t max_payload = 4096;
  uint32_t capacity = 65536;  // Boost message_queue depth (created by the first sender)
  // taskring workers take (TakeMany) and complete (CompleteMany) up to this many jobs per call:
  // the load's --batch, so a batched run is batched at both ends where the API allows it.
  uint32_t take_batch = 1;
  JobOptions job;  // taskring only
};

// "taskring", "boost-mq", "redis" or "beanstalkd"; false for anything else.
bool ParseBackendKind(std::string_view name, BackendKind* out);
const char* BackendName(BackendKind kind);

enum class SendOutcome : uint8_t { kAccepted, kBusy, kError };

class Sender {
 public:
  virtual ~Sender() = default;
  // Sends payloads as one batch where the backend can (pipelined for Redis and beanstalkd).
  // out[i] answers payloads[i]. A non-OK return means the connection itself failed.
  virtual Status Send(std::span<const std::string_view> payloads, std::span<SendOutcome> out) = 0;
};

class Receiver {
 public:
  virtual ~Receiver() = default;
  // Waits up to timeout_ms for one job and copies its payload. TimedOut when none came.
  virtual Status Receive(std::string* payload, uint32_t timeout_ms) = 0;
  // Acknowledges the job last received (taskring Complete, beanstalkd delete; lists and
  // message queues have nothing to acknowledge).
  virtual Status Ack() = 0;
};

Status MakeSender(const Target& target, std::unique_ptr<Sender>* out);
Status MakeReceiver(const Target& target, std::unique_ptr<Receiver>* out);

// Peers live in their own files; MakeSender/MakeReceiver dispatch to them.
Status MakeTaskringSender(const Target& t, std::unique_ptr<Sender>* out);
Status MakeTaskringReceiver(const Target& t, std::unique_ptr<Receiver>* out);
Status MakeBoostMqSender(const Target& t, std::unique_ptr<Sender>* out);
Status MakeBoostMqReceiver(const Target& t, std::unique_ptr<Receiver>* out);
Status MakeRedisSender(const Target& t, std::unique_ptr<Sender>* out);
Status MakeRedisReceiver(const Target& t, std::unique_ptr<Receiver>* out);
Status MakeBeanstalkdSender(const Target& t, std::unique_ptr<Sender>* out);
Status MakeBeanstalkdReceiver(const Target& t, std::unique_ptr<Receiver>* out);

}  // namespace taskring::loadgen

#endif  // TASKRING_LOADGEN_BACKEND_H_
