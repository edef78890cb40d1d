#include "taskring/queue_control.h"

#include "client/session.h"

namespace taskring {

using segment::LaneOp;

QueueControl::QueueControl(std::unique_ptr<client::Session> session, const ProducerOptions& options)
    : session_(std::move(session)), options_(options) {}

QueueControl::~QueueControl() = default;

Status QueueControl::Open(const ProducerOptions& options, std::unique_ptr<QueueControl>* out) {
  std::unique_ptr<client::Session> session;
  Status s = client::Session::Open(options.queue, segment::ClientRole::kProducer,
                                   options.attach_timeout_ms, options.wait_for_daemon_ms, &session);
  if (!s.ok()) return s;
  out->reset(new QueueControl(std::move(session), options));
  return Status::OK();
}

Status QueueControl::Send(uint32_t op, uint64_t* answer) {
  Status s = session_->CheckDaemon();
  if (!s.ok()) return s;
  uint64_t pos = 0;
  s = session_->Push(segment::LaneRecord{op, 0, 0, 0}, &pos);
  if (!s.ok()) return s;
  session_->RingDoorbell();
  s = session_->WaitCommitted(pos, 0, options_.commit_timeout_ms);
  if (!s.ok()) return s;
  const segment::LaneRecord r = session_->ReadAnswer(pos);
  if (r.op != (segment::kAnswered | op)) {
    return Status::Incompatible("the daemon did not answer the queue operation (an older daemon?)");
  }
  *answer = segment::AnswerValue(r);
  return Status::OK();
}

Status QueueControl::Pause() {
  uint64_t answer = 0;
  Status s = Send(static_cast<uint32_t>(LaneOp::kPause), &answer);
  if (s.ok() && answer != 1) {
    return Status::IOError("the daemon could not record the paused state (see its log)");
  }
  return s;
}

Status QueueControl::Resume() {
  uint64_t answer = 0;
  Status s = Send(static_cast<uint32_t>(LaneOp::kResume), &answer);
  if (s.ok() && answer != 0) {
    return Status::IOError("the daemon could not record the resumed state (see its log)");
  }
  return s;
}

Status QueueControl::Purge(uint64_t* cancelled) {
  return Send(static_cast<uint32_t>(LaneOp::kPurge), cancelled);
}

bool QueueControl::paused() const {
  return session_->seg().header()->paused.load(std::memory_order_acquire) != 0;
}

}  // namespace taskring
