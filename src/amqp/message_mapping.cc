#include "amqp/message_mapping.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <string_view>

namespace taskring::amqp {
namespace {

constexpr std::string_view kRelayHeaderPrefix = "x-taskring-";
// Headers RabbitMQ itself adds to a message (redelivery count, dead-lettering history).
constexpr std::array<std::string_view, 4> kBrokerHeaderPrefixes = {
    "x-delivery-count", "x-death", "x-first-death-", "x-last-death-"};

amqp_bytes_t BytesOf(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}
std::string_view ViewOf(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }

amqp_table_entry_t TextEntry(const char* key, std::string_view value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = BytesOf(value);
  return e;
}
amqp_table_entry_t IntEntry(const char* key, int64_t value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

bool IsBrokerHeader(std::string_view name) {
  return std::any_of(kBrokerHeaderPrefixes.begin(), kBrokerHeaderPrefixes.end(),
                     [&](std::string_view p) { return name.rfind(p, 0) == 0; });
}

// A header value as job header text; false for kinds with no faithful text (tables, arrays).
bool TextOfField(const amqp_field_value_t& v, std::string* out) {
  char buf[64];
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: *out = std::string(ViewOf(v.value.bytes)); return true;
    case AMQP_FIELD_KIND_BOOLEAN: *out = v.value.boolean != 0 ? "true" : "false"; return true;
    case AMQP_FIELD_KIND_I8: *out = std::to_string(v.value.i8); return true;
    case AMQP_FIELD_KIND_U8: *out = std::to_string(v.value.u8); return true;
    case AMQP_FIELD_KIND_I16: *out = std::to_string(v.value.i16); return true;
    case AMQP_FIELD_KIND_U16: *out = std::to_string(v.value.u16); return true;
    case AMQP_FIELD_KIND_I32: *out = std::to_string(v.value.i32); return true;
    case AMQP_FIELD_KIND_U32: *out = std::to_string(v.value.u32); return true;
    case AMQP_FIELD_KIND_I64: *out = std::to_string(v.value.i64); return true;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: *out = std::to_string(v.value.u64); return true;
    case AMQP_FIELD_KIND_F32:
      std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v.value.f32));
      *out = buf;
      return true;
    case AMQP_FIELD_KIND_F64:
      std::snprintf(buf, sizeof(buf), "%.17g", v.value.f64);
      *out = buf;
      return true;
    case AMQP_FIELD_KIND_VOID: out->clear(); return true;
    default: return false;  // table, array, decimal
  }
}

bool IntOfField(const amqp_field_value_t& v, uint64_t* out) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I64:
      *out = v.value.i64 > 0 ? static_cast<uint64_t>(v.value.i64) : 0;
      return true;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: *out = v.value.u64; return true;
    case AMQP_FIELD_KIND_I32:
      *out = v.value.i32 > 0 ? static_cast<uint64_t>(v.value.i32) : 0;
      return true;
    case AMQP_FIELD_KIND_U32: *out = v.value.u32; return true;
    default: return false;
  }
}

}  // namespace

std::string MessageBuilder::MessageId(uint64_t job_id) const {
  return origin_ + "/" + std::to_string(job_id);
}

const amqp_basic_properties_t& MessageBuilder::Build(const Job& job) {
  message_id_ = MessageId(job.id());
  headers_.clear();
  for (const auto& [name, value] : job.headers())
    headers_.push_back(TextEntry(name.c_str(), value));
  // The job id and origin are in the message id. Every entry costs the broker CPU per
  // message (a quorum queue logs it through Raft): about 10% of the hop's throughput for five.
  headers_.push_back(IntEntry("x-taskring-attempt", job.attempt()));
  headers_.push_back(
      IntEntry("x-taskring-enqueued-ns", static_cast<int64_t>(job.enqueued_unix_ns())));
  amqp_basic_properties_t& p = properties_;
  p = amqp_basic_properties_t{};
  p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
             AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
             AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
  p.content_type = amqp_cstring_bytes("application/octet-stream");
  p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  p.priority = static_cast<uint8_t>(std::clamp(job.priority(), kMinPriority, kMaxPriority));
  p.message_id = BytesOf(message_id_);
  p.timestamp = job.enqueued_unix_ns() / 1'000'000'000ULL;
  p.app_id = amqp_cstring_bytes("taskring");
  if (!job.type().empty()) {
    p._flags |= AMQP_BASIC_TYPE_FLAG;
    p.type = BytesOf(job.type());
  }
  p.headers.num_entries = static_cast<int>(headers_.size());
  p.headers.entries = headers_.data();
  return p;
}

uint64_t JobIdOfMessageId(std::string_view message_id, std::string_view origin) {
  if (message_id.size() <= origin.size() + 1 || message_id.substr(0, origin.size()) != origin ||
      message_id[origin.size()] != '/') {
    return 0;
  }
  const std::string_view digits = message_id.substr(origin.size() + 1);
  uint64_t id = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  return ec == std::errc() && end == digits.data() + digits.size() ? id : 0;
}

Status MapDelivery(const amqp_basic_properties_t& p, MappedJob* out) {
  *out = MappedJob{};
  EnqueueOptions& o = out->options;
  if ((p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0 && p.message_id.len != 0) {
    // Checked again by the producer (visible ASCII, kMaxKeyBytes); said here in bridge terms.
    if (p.message_id.len > kMaxKeyBytes) {
      return Status::InvalidArgument("message_id of " + std::to_string(p.message_id.len) +
                                     " bytes is longer than an idempotency key may be (" +
                                     std::to_string(kMaxKeyBytes) + ")");
    }
    o.idempotency_key = std::string(ViewOf(p.message_id));
  }
  if ((p._flags & AMQP_BASIC_TYPE_FLAG) != 0) o.type = std::string(ViewOf(p.type));
  if ((p._flags & AMQP_BASIC_PRIORITY_FLAG) != 0) {
    o.priority = std::min<int>(p.priority, kMaxPriority);
  }
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) == 0) return Status::OK();
  for (int i = 0; i < p.headers.num_entries; ++i) {
    const amqp_table_entry_t& e = p.headers.entries[i];
    const std::string_view name = ViewOf(e.key);
    if (name == "x-taskring-enqueued-ns") {
      (void)IntOfField(e.value, &out->origin_enqueued_unix_ns);
      continue;
    }
    if (name.rfind(kRelayHeaderPrefix, 0) == 0 || IsBrokerHeader(name)) continue;
    std::string value;
    if (!TextOfField(e.value, &value)) {
      return Status::InvalidArgument("header " + std::string(name) +
                                     " is a table, array or decimal, which a job header cannot "
                                     "hold");
    }
    o.headers.emplace_back(name, std::move(value));
  }
  return Status::OK();
}

}  // namespace taskring::amqp
