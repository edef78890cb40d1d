#include "loadgen/backend.h"

namespace taskring::loadgen {

bool ParseBackendKind(std::string_view name, BackendKind* out) {
  for (BackendKind k : {BackendKind::kTaskring, BackendKind::kBoostMq, BackendKind::kRedis,
                        BackendKind::kBeanstalkd}) {
    if (name == BackendName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

const char* BackendName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kTaskring: return "taskring";
    case BackendKind::kBoostMq: return "boost-mq";
    case BackendKind::kRedis: return "redis";
    case BackendKind::kBeanstalkd: return "beanstalkd";
  }
  return "unknown";
}

Status MakeSender(const Target& t, std::unique_ptr<Sender>* out) {
  switch (t.kind) {
    case BackendKind::kTaskring: return MakeTaskringSender(t, out);
    case BackendKind::kBoostMq: return MakeBoostMqSender(t, out);
    case BackendKind::kRedis: return MakeRedisSender(t, out);
    case BackendKind::kBeanstalkd: return MakeBeanstalkdSender(t, out);
  }
  return Status::InvalidArgument("unknown backend");
}

Status MakeReceiver(const Target& t, std::unique_ptr<Receiver>* out) {
  switch (t.kind) {
    case BackendKind::kTaskring: return MakeTaskringReceiver(t, out);
    case BackendKind::kBoostMq: return MakeBoostMqReceiver(t, out);
    case BackendKind::kRedis: return MakeRedisReceiver(t, out);
    case BackendKind::kBeanstalkd: return MakeBeanstalkdReceiver(t, out);
  }
  return Status::InvalidArgument("unknown backend");
}

}  // namespace taskring::loadgen
