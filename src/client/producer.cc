#include "taskring/producer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "admission/admission.h"
#include "client/job_lookup.h"
#include "client/session.h"
#include "segment/ring.h"
#include "util/clock.h"
#include "util/job_meta.h"
#include "util/secret_source.h"

namespace taskring {

using segment::LaneOp;
using segment::LaneRecord;
using segment::SlotState;

Producer::Producer(std::unique_ptr<client::Session> session, const ProducerOptions& options)
    : session_(std::move(session)),
      options_(options),
      secrets_(std::make_unique<util::SecretSource>()) {}

Producer::~Producer() = default;

Status Producer::Open(const ProducerOptions& options, std::unique_ptr<Producer>* out) {
  std::unique_ptr<client::Session> session;
  Status s = client::Session::Open(options.queue, segment::ClientRole::kProducer,
                                   options.attach_timeout_ms, options.wait_for_daemon_ms, &session);
  if (!s.ok()) return s;
  out->reset(new Producer(std::move(session), options));
  return Status::OK();
}

namespace {

// The next job id whose status entry holds no live job (segment/status_table.h): ids are never
// dense anyway (a producer that dies holding one leaves a gap), and a live job must keep its
// entry, which holds its token secret and finds its status in O(1). Found within capacity + 1
// draws: each draw is a new entry (the table has at least 4 x capacity), and at most capacity
// jobs are live. Usually the first draw.
uint64_t DrawJobId(const segment::Segment& seg) {
  uint64_t id = 0;
  for (uint64_t draws = 0; draws <= seg.params().capacity; ++draws) {
    id = seg.header()->next_job_id.fetch_add(1, std::memory_order_relaxed);
    if (!segment::HoldsLiveJob(seg.status_entry(id)->packed.load(std::memory_order_acquire))) {
      break;
    }
  }
  return id;
}

// The answer for a job that was not accepted (no id, no token).
EnqueueResult Refused(const Status& s) {
  EnqueueResult r;
  r.status = s;
  return r;
}

// What EnqueueOptions put in a slot beyond the payload, validated once per call.
struct Prepared {
  std::string meta;  // encoded (util/job_meta.h)
  uint8_t priority = 0;
  uint32_t timeout_ms = 0;
  uint64_t not_before_unix_ns = 0;  // with the relative delay still to add (delay_ms)
};

Status Prepare(const EnqueueOptions& o, const segment::Segment& seg, Prepared* out) {
  if (o.priority < kMinPriority || o.priority > kMaxPriority) {
    return Status::InvalidArgument("priority " + std::to_string(o.priority) + " is outside " +
                                   std::to_string(kMinPriority) + ".." +
                                   std::to_string(kMaxPriority));
  }
  if (o.delay_ms != 0 && o.run_at_unix_ns != 0) {
    return Status::InvalidArgument("set a delay or a run time, not both");
  }
  if (o.delay_ms > (uint64_t{1} << 40)) {
    return Status::InvalidArgument("delay of " + std::to_string(o.delay_ms) + " ms is too long");
  }
  util::JobMeta meta;
  meta.type = o.type;
  meta.key = o.idempotency_key;
  meta.headers = o.headers;
  Status s = util::EncodeJobMeta(meta, &out->meta);
  if (!s.ok()) return s;
  out->priority = static_cast<uint8_t>(o.priority);
  out->timeout_ms = o.timeout_ms != 0 ? o.timeout_ms : seg.header()->default_timeout_ms;
  out->not_before_unix_ns = o.run_at_unix_ns;
  return Status::OK();
}

}  // namespace

Status Producer::Enqueue(std::string_view payload, uint64_t* job_id,
                         const EnqueueOptions& options) {
  EnqueueResult result;
  Status s = Enqueue(payload, options, &result);
  if (s.ok() && job_id != nullptr) *job_id = result.job_id;
  return s;
}

Status Producer::Enqueue(std::string_view payload, const EnqueueOptions& options,
                         EnqueueResult* result) {
  *result = EnqueueResult{};
  const EnqueueItem item{payload, &options};
  Status s =
      EnqueueMany(std::span<const EnqueueItem>(&item, 1), std::span<EnqueueResult>(result, 1));
  if (!s.ok()) {
    result->status = s;
    return s;
  }
  return result->status;
}

Status Producer::EnqueueBatch(std::span<const std::string_view> payloads,
                              std::span<EnqueueResult> results, const EnqueueOptions& options) {
  if (!options.idempotency_key.empty()) {
    return Status::InvalidArgument(
        "an idempotency key names one job: use Enqueue, not EnqueueBatch");
  }
  batch_items_.clear();
  for (std::string_view payload : payloads) batch_items_.push_back({payload, &options});
  return EnqueueBatch(batch_items_, results);
}

Status Producer::EnqueueBatch(std::span<const EnqueueItem> items,
                              std::span<EnqueueResult> results) {
  if (results.size() < items.size()) {
    return Status::InvalidArgument("results span is shorter than the items");
  }
  const size_t lane = session_->seg().params().lane_capacity;
  for (size_t first = 0; first < items.size(); first += lane) {
    const size_t n = std::min(lane, items.size() - first);
    Status s = EnqueueMany(items.subspan(first, n), results.subspan(first, n));
    if (!s.ok()) {
      for (size_t i = first + n; i < items.size(); ++i) results[i] = Refused(s);
      return s;
    }
  }
  return Status::OK();
}

Status Producer::EnqueueMany(std::span<const EnqueueItem> items, std::span<EnqueueResult> results) {
  const segment::Segment& seg = session_->seg();
  Status daemon = session_->CheckDaemon();
  if (!daemon.ok()) {
    for (size_t i = 0; i < items.size(); ++i) results[i] = Refused(daemon);
    seg.AddRejected(
        session_->index(),
        daemon.IsIOError() ? segment::RejectReason::kStorage : segment::RejectReason::kStopped,
        items.size());
    return daemon;
  }

  static const EnqueueOptions kDefaults;
  // Items sharing one options object (EnqueueBatch of payloads) are prepared once.
  const EnqueueOptions* prepared_for = nullptr;
  Prepared prep;
  Status invalid;
  bool any_pushed = false, any_keyed = false;
  uint64_t first_pos = 0, last_pos = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    EnqueueResult& r = results[i];
    r = EnqueueResult{};
    const EnqueueOptions& options = items[i].options != nullptr ? *items[i].options : kDefaults;
    if (&options != prepared_for) {
      prep = Prepared{};
      invalid = Prepare(options, seg, &prep);
      prepared_for = &options;
    }
    if (!invalid.ok()) {
      r.status = invalid;
      continue;
    }
    const std::string_view payload = items[i].payload;
    // The job's meta (type, key, headers) shares the payload's room in the slot.
    if (payload.size() + prep.meta.size() > seg.params().max_payload) {
      seg.AddRejected(session_->index(), segment::RejectReason::kTooLarge);
      r.status = Status::InvalidArgument(
          "payload of " + std::to_string(payload.size()) + " bytes" +
          (prep.meta.empty()
               ? std::string()
               : " and " + std::to_string(prep.meta.size()) + " bytes of type, key and headers") +
          " exceeds the queue's max payload of " + std::to_string(seg.params().max_payload));
      continue;
    }
    uint8_t secret[segment::kTokenSecretBytes];
    if (!secrets_->Next(secret)) {
      r.status = Status::IOError(std::string("no random bytes for the job's token: ") +
                                 std::strerror(errno));
      continue;
    }
    uint32_t slot = 0, gen = 0;
    if (!admission::TryAcquireSlot(seg, session_->index(), &slot, &gen)) {
      seg.AddRejected(session_->index(), segment::RejectReason::kBusy);
      r.status = Status::Busy();
      continue;
    }
    const uint32_t max_attempts =
        options.max_attempts != 0 ? options.max_attempts : seg.header()->default_max_attempts;
    segment::SlotHeader* h = seg.slot(slot);
    const uint64_t id = DrawJobId(seg);
    const uint64_t now = util::NowUnixNs();
    segment::FillSlotHeader(
        h, {.job_id = id,
            .enqueued_unix_ns = now,
            .payload_len = static_cast<uint32_t>(payload.size()),
            .max_attempts = max_attempts,
            .not_before_unix_ns = options.delay_ms != 0 ? now + options.delay_ms * 1'000'000ULL
                                                        : prep.not_before_unix_ns,
            .priority = prep.priority,
            .meta_len = static_cast<uint16_t>(prep.meta.size()),
            .timeout_ms = prep.timeout_ms});
    if (!payload.empty()) std::memcpy(seg.payload(slot), payload.data(), payload.size());
    if (!prep.meta.empty()) {
      std::memcpy(seg.meta(slot, static_cast<uint32_t>(payload.size())), prep.meta.data(),
                  prep.meta.size());
    }
    segment::StatusEntry* st = seg.status_entry(id);
    // The id goes in first: a reader of the entry's previous job that reads the secret below
    // then sees its id gone (job_lookup.cc checks). No one knows this id yet.
    st->packed.store(segment::PackStatus(id, segment::JobStateCode::kPending, 0),
                     std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    st->slot.store(slot, std::memory_order_relaxed);
    segment::StoreSecret(st, secret);
    st->updated_unix_ns.store(now, std::memory_order_relaxed);
    st->packed.store(segment::PackStatus(id, segment::JobStateCode::kPending, 0),
                     std::memory_order_release);
    h->word.store(segment::PackSlotWord(gen, session_->index(), SlotState::kSubmitted),
                  std::memory_order_release);
    Status s = session_->Push(LaneRecord{static_cast<uint32_t>(LaneOp::kEnqueue), slot, gen, 0},
                              &last_pos);
    if (!s.ok()) {
      // The daemon is gone. Records pushed before this one may have been logged before it died:
      // their outcome is unknown and they keep their ids (the caller may poll them, and must not
      // submit them again). This one and the rest were never submitted (id 0).
      for (size_t j = 0; j < items.size(); ++j) {
        if (j >= i) {
          results[j] = Refused(s);
        } else if (results[j].status.ok()) {
          results[j].status = s;
        }
      }
      return s;
    }
    if (!any_pushed) first_pos = last_pos;
    any_pushed = true;
    any_keyed |= !options.idempotency_key.empty();
    r.job_id = id;
    r.token.id = id;
    std::memcpy(r.token.secret.data(), secret, sizeof(secret));
  }
  if (!any_pushed) return Status::OK();
  session_->RingDoorbell();
  // In fsync mode the wait is a disk flush (hundreds of us): spinning through it would only take
  // the CPU the daemon needs to finish it. Sleep at once.
  const bool disk_wait =
      seg.header()->durability == static_cast<uint32_t>(segment::Durability::kFsync);
  Status s = session_->WaitCommitted(last_pos, disk_wait ? 0 : options_.spin_iterations,
                                     options_.commit_timeout_ms);
  if (!s.ok()) {
    // Keep the ids: the outcome is unknown, and the caller may poll them.
    for (size_t i = 0; i < items.size(); ++i) {
      if (results[i].status.ok()) results[i].status = s;
    }
    return s;
  }
  // A key seen before: the daemon answered in the record's own lane cell with the first job's
  // id. The records were pushed at first_pos.. in item order, skipping refused items, and no
  // more than a lane's worth, so no cell was reused.
  if (!any_keyed) return Status::OK();
  uint64_t pos = first_pos;
  for (size_t i = 0; i < items.size(); ++i) {
    if (results[i].job_id == 0) continue;  // refused before it was pushed
    const segment::LaneRecord answer = session_->ReadAnswer(pos++);
    if (answer.op != (segment::kAnswered | static_cast<uint32_t>(LaneOp::kEnqueue)) ||
        (answer.attempt & segment::kAnswerDuplicate) == 0) {
      continue;
    }
    EnqueueResult& r = results[i];
    const uint64_t first = segment::AnswerValue(answer);
    if (first == 0 || first >= seg.header()->next_job_id.load(std::memory_order_acquire)) {
      r.status = Status::Corruption("the daemon answered an invalid job id");
      continue;
    }
    r.job_id = first;
    r.duplicate = true;
    // The first job's token, from its status (live, or its outcome still kept).
    JobStatus st;
    r.token = JobToken{};
    if (client::LookupJob(seg, first, &st).ok()) (void)JobToken::Parse(st.token, &r.token);
  }
  return Status::OK();
}

Status Producer::GetStatus(uint64_t job_id, JobStatus* out) const {
  return client::LookupJob(session_->seg(), job_id, out);
}

uint32_t Producer::RetryAfterMs() const {
  const segment::SegmentHeader* h = session_->seg().header();
  return admission::RetryAfterMs(h->outstanding.load(std::memory_order_relaxed),
                                 h->drain_rate_milli.load(std::memory_order_relaxed));
}

uint32_t Producer::max_payload() const { return session_->seg().params().max_payload; }
uint32_t Producer::capacity() const { return session_->seg().params().capacity; }

}  // namespace taskring
