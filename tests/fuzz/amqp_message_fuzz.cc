// libFuzzer target: what `taskring bridge` makes of a message from the network
// (amqp/message_mapping.h: MapDelivery), with headers decoded by rabbitmq-c from arbitrary
// bytes, as any publisher on the broker may send them.
//
// Input: a flags byte (1: message_id, 2: type, 4: priority, 8: headers), then for each field
// present in that order: message_id and type as a length byte and that many bytes, priority as
// one byte, headers as the rest (an AMQP field table, which amqp_decode_table parses).
//
// Invariants checked (abort on violation):
//  - no crash, no UB, nothing read outside the input;
//  - errors are InvalidArgument with a message;
//  - on OK: the key is the message id, the priority within 0..9, no header the bridge drops
//    (x-taskring-*, the broker's x-delivery-count and x-death*) is kept, no more headers than
//    the table had; and the job meta the producer would build from it either encodes and
//    decodes back to the same fields or is refused as InvalidArgument.
#include <amqp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "amqp/message_mapping.h"
#include "fuzz_common.h"
#include "util/job_meta.h"

namespace taskring::amqp {
namespace {

using fuzz::CheckErrorStatus;
using Code = Status::Code;

// Takes a length-prefixed string off the front of `in`; false when the input is too short.
bool TakeString(std::string_view* in, amqp_bytes_t* out) {
  if (in->empty()) return false;
  const size_t n = static_cast<uint8_t>((*in)[0]);
  if (in->size() < 1 + n) return false;
  *out = amqp_bytes_t{n, const_cast<char*>(in->data() + 1)};
  in->remove_prefix(1 + n);
  return true;
}

void Check(std::string_view in, amqp_pool_t* pool) {
  if (in.empty()) return;
  const uint8_t flags = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  amqp_basic_properties_t p{};
  if ((flags & 1) != 0) {
    if (!TakeString(&in, &p.message_id)) return;
    p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
  }
  if ((flags & 2) != 0) {
    if (!TakeString(&in, &p.type)) return;
    p._flags |= AMQP_BASIC_TYPE_FLAG;
  }
  if ((flags & 4) != 0) {
    if (in.empty()) return;
    p.priority = static_cast<uint8_t>(in[0]);
    p._flags |= AMQP_BASIC_PRIORITY_FLAG;
    in.remove_prefix(1);
  }
  if ((flags & 8) != 0) {
    size_t offset = 0;
    const amqp_bytes_t encoded{in.size(), const_cast<char*>(in.data())};
    if (amqp_decode_table(encoded, pool, &p.headers, &offset) != AMQP_STATUS_OK) return;
    p._flags |= AMQP_BASIC_HEADERS_FLAG;
  }

  MappedJob job;
  Status s = MapDelivery(p, &job);
  CheckErrorStatus(s, {Code::kInvalidArgument}, "MapDelivery");
  if (!s.ok()) return;
  const EnqueueOptions& o = job.options;
  if ((flags & 1) != 0) {
    FUZZ_CHECK(o.idempotency_key ==
                   std::string_view(static_cast<const char*>(p.message_id.bytes), p.message_id.len),
               "the key is not the message id");
  }
  FUZZ_CHECK(o.priority >= kMinPriority && o.priority <= kMaxPriority, "priority %d", o.priority);
  FUZZ_CHECK(o.headers.size() <= static_cast<size_t>(std::max(p.headers.num_entries, 0)),
             "more headers than the table had");
  for (const auto& [name, value] : o.headers) {
    FUZZ_CHECK(name.rfind("x-taskring-", 0) != 0 && name.rfind("x-death", 0) != 0 &&
                   name != "x-delivery-count",
               "kept a header the bridge drops: %s", name.c_str());
  }
  // What Producer::Enqueue does with them next.
  util::JobMeta meta;
  meta.type = o.type;
  meta.key = o.idempotency_key;
  meta.headers = o.headers;
  std::string encoded;
  s = util::EncodeJobMeta(meta, &encoded);
  CheckErrorStatus(s, {Code::kInvalidArgument}, "EncodeJobMeta");
  if (!s.ok()) return;
  util::JobMeta back;
  FUZZ_CHECK(util::DecodeJobMeta(encoded, &back).ok(), "an encoded meta does not decode");
  FUZZ_CHECK(back.type == meta.type && back.key == meta.key && back.headers == meta.headers,
             "the meta changed on its way through the encoding");
}

}  // namespace
}  // namespace taskring::amqp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so ASan catches a read one byte past the input.
  std::unique_ptr<char[]> copy(new char[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(copy.get(), data, size);
  amqp_pool_t pool;
  init_amqp_pool(&pool, 4096);
  taskring::amqp::Check(std::string_view(copy.get(), size), &pool);
  empty_amqp_pool(&pool);
  return 0;
}
