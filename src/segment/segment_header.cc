#include "segment/segment_header.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "segment/client_table.h"
#include "segment/free_stack.h"
#include "segment/lane.h"
#include "segment/ring.h"
#include "segment/slot.h"
#include "segment/status_table.h"

namespace taskring::segment {

namespace {

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

Status ComputeLayout(const Params& p, Layout* out) {
  if (p.capacity == 0 || p.capacity > kMaxCapacity) {
    return Status::InvalidArgument("capacity must be in 1.." + std::to_string(kMaxCapacity));
  }
  if (p.max_payload == 0 || p.max_payload > kMaxPayload) {
    return Status::InvalidArgument("max payload must be in 1.." + std::to_string(kMaxPayload));
  }
  if (p.max_clients == 0 || p.max_clients > kMaxClients || p.max_clients >= kNoClient) {
    return Status::InvalidArgument("max clients must be in 1.." + std::to_string(kMaxClients));
  }
  if (p.lane_capacity < 2 || p.lane_capacity > kMaxLaneCapacity ||
      !std::has_single_bit(p.lane_capacity)) {
    return Status::InvalidArgument("lane capacity must be a power of two in 2.." +
                                   std::to_string(kMaxLaneCapacity));
  }
  if (p.max_result > kMaxResult) {
    return Status::InvalidArgument("max result must be at most " + std::to_string(kMaxResult));
  }
  if (p.outcome_index_entries > kMaxOutcomeIndexEntries ||
      (p.outcome_index_entries != 0 && !std::has_single_bit(p.outcome_index_entries))) {
    return Status::InvalidArgument("outcome index entries must be 0 or a power of two up to " +
                                   std::to_string(kMaxOutcomeIndexEntries));
  }
  Layout l;
  l.ring_capacity = std::bit_ceil(p.capacity);
  l.status_entries = std::bit_ceil(p.capacity * 4ULL) > (1ULL << 26)
                         ? (1u << 26)
                         : static_cast<uint32_t>(std::bit_ceil(p.capacity * 4ULL));
  l.payload_stride = static_cast<uint32_t>(RoundUp(p.max_payload, kCacheLine));
  uint64_t off = kHeaderBytes;
  l.counters_offset = off;
  off += RoundUp(kCounterCount * sizeof(CounterCell), 4096);
  l.clients_offset = off;
  off += RoundUp(uint64_t{p.max_clients} * sizeof(ClientEntry), 4096);
  l.lanes_offset = off;
  off += RoundUp(uint64_t{p.max_clients} * p.lane_capacity * sizeof(LaneRecord), 4096);
  l.free_stack_offset = off;
  off += RoundUp(FreeStackBytes(l.ring_capacity), 4096);
  l.dispatch_ring_offset = off;
  l.dispatch_ring_stride = RoundUp(RingBytes(l.ring_capacity), 4096);
  off += l.dispatch_ring_stride * kPriorityLevels;
  l.status_offset = off;
  off += RoundUp(uint64_t{l.status_entries} * sizeof(StatusEntry), 4096);
  l.slots_offset = off;
  off += SlotHeadersBytes(p.capacity);
  l.payloads_offset = off;
  off += RoundUp(uint64_t{p.capacity} * l.payload_stride, 4096);
  l.extras_offset = off;
  off += RoundUp(uint64_t{p.capacity} * sizeof(SlotExtra), 4096);
  // Room for an error text even when results are off (max_result 0).
  l.result_stride = static_cast<uint32_t>(RoundUp(std::max<uint64_t>(p.max_result, 2048), 4096));
  l.results_offset = off;
  off += uint64_t{p.max_clients} * l.result_stride;
  l.outcome_index_offset = off;
  off += RoundUp(uint64_t{p.outcome_index_entries} * kOutcomeIndexEntryBytes, 4096);
  l.total_bytes = off;
  if (l.total_bytes > kMaxSegmentBytes) {
    return Status::InvalidArgument("segment would need " + std::to_string(l.total_bytes >> 20) +
                                   " MiB (capacity x max payload too large); limit is " +
                                   std::to_string(kMaxSegmentBytes >> 20) + " MiB");
  }
  *out = l;
  return Status::OK();
}

Status ValidateHeader(const SegmentHeader* h, uint64_t mapped_bytes, Params* params,
                      Layout* layout) {
  if (mapped_bytes < kHeaderBytes) {
    return Status::Corruption("segment is " + std::to_string(mapped_bytes) +
                              " bytes, smaller than its header");
  }
  if (h->magic != kMagic) {
    return Status::Corruption("segment has a wrong magic number (not a taskring segment)");
  }
  const uint32_t version = h->layout_version.load(std::memory_order_acquire);
  if (version == 0) return Status::NotReady("segment is not ready yet (daemon starting)");
  if (version != kLayoutVersion) {
    return Status::Incompatible("segment layout version " + std::to_string(version) +
                                ", this build understands " + std::to_string(kLayoutVersion));
  }
  if (h->header_bytes != kHeaderBytes) {
    return Status::Corruption("segment header size field is wrong");
  }
  const Params p = h->params;
  const Layout recorded = h->layout;
  Layout expected;
  Status s = ComputeLayout(p, &expected);
  if (!s.ok()) return Status::Corruption("segment parameters invalid: " + s.ToString());
  if (!(expected == recorded)) {
    return Status::Corruption("segment region table does not match its parameters");
  }
  if (h->segment_bytes != expected.total_bytes || mapped_bytes < expected.total_bytes) {
    return Status::Corruption("segment size " + std::to_string(mapped_bytes) +
                              " does not match its header (" +
                              std::to_string(expected.total_bytes) + ")");
  }
  if (h->durability > static_cast<uint32_t>(Durability::kNone)) {
    return Status::Corruption("segment durability field is invalid");
  }
  if (std::memchr(h->queue_name, '\0', kMaxQueueName) == nullptr) {
    return Status::Corruption("segment queue name is not terminated");
  }
  if (std::memchr(h->wal_dir, '\0', kMaxWalDir) == nullptr) {
    return Status::Corruption("segment WAL directory is not terminated");
  }
  *params = p;
  *layout = expected;
  return Status::OK();
}

}  // namespace taskring::segment
