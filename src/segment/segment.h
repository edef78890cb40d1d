// A mapped queue segment: creation (daemon), attachment with validation (clients, tools) and
// typed access to its regions. Parameters and layout are copied out of the header once, after
// validation, and never re-read from shared memory, so a process scribbling on the header later
// cannot steer other processes' index arithmetic out of bounds.
//
// Thread-safety: the accessors are const and may be used from any thread; the regions they
// return follow their own concurrency rules (the header of each region's struct).
#ifndef TASKRING_SEGMENT_SEGMENT_H_
#define TASKRING_SEGMENT_SEGMENT_H_

#include <memory>
#include <string>

#include "segment/client_table.h"
#include "segment/daemon_life.h"
#include "segment/free_stack.h"
#include "segment/lane.h"
#include "segment/metrics_catalog.h"
#include "segment/queue_names.h"
#include "segment/ring.h"
#include "segment/segment_header.h"
#include "segment/slot.h"
#include "segment/status_table.h"
#include "taskring/options.h"
#include "taskring/status.h"

namespace taskring::segment {

struct CreateOptions {
  Params params;
  Durability durability = Durability::kFsync;
  uint32_t default_max_attempts = 3;
  uint32_t lease_ms = 30000;
  uint32_t retry_backoff_ms = 1000;
  uint32_t default_timeout_ms = 0;  // a job's execution limit when it sets none; 0 = none
  uint64_t result_ttl_ns = 0;       // how long outcomes are kept; 0 = no limit
  uint64_t first_job_id = 1;        // the lowest id this WAL directory ever handed out
  bool group_access = false;        // 0660 instead of 0600
  std::string wal_dir;              // absolute, < kMaxWalDir bytes
};

class Segment {
 public:
  // Builds the segment of `queue` under a staging name, invisible to attachers, and locks its
  // daemon-life mutex on the calling thread, which must live as long as the daemon (its death
  // is what marks the daemon dead). The caller must hold the queue lock (LockPath). Destroying
  // the Segment before Install() removes it: a failed start leaves nothing behind.
  static Status Create(const std::string& queue, const CreateOptions& opts,
                       std::unique_ptr<Segment>* out);
  // Attaches and validates. NotFound when the queue has no segment (no daemon ever ran or it was
  // removed), NotReady while its daemon is still starting (retry), Closed when that daemon died
  // while starting, Corruption/Incompatible when it fails validation.
  static Status Attach(const std::string& queue, bool read_only, std::unique_ptr<Segment>* out);
  // Unlinks the named segment (mappings stay valid until unmapped).
  static void Remove(const std::string& queue);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Puts the staged segment under the queue's name, replacing one left behind (first marked
  // kAbandoned so processes still attached to it notice; job ids continue past its own, so ids
  // its producers took are never reused). Attachers then see NotReady until Publish().
  Status Install();
  // Makes the segment ready for attachers (release-stores the layout version).
  void Publish();
  // Unlocks the daemon-life mutex (clean exit; call on the thread that created the segment).
  // The destructor does it too.
  void ReleaseDaemonLife();

  SegmentHeader* header() const { return header_; }
  const Params& params() const { return params_; }
  const Layout& layout() const { return layout_; }
  const std::string& queue() const { return queue_; }

  std::atomic<uint64_t>& counter(Counter c) const {
    return reinterpret_cast<CounterCell*>(base_ + layout_.counters_offset)[static_cast<int>(c)]
        .value;
  }
  void Add(Counter c, uint64_t n = 1) const { counter(c).fetch_add(n, std::memory_order_relaxed); }
  uint64_t Read(Counter c) const { return counter(c).load(std::memory_order_relaxed); }
  // Counts a refusal in `client`'s own entry (the caller holds that entry).
  void AddRejected(uint32_t client, RejectReason r, uint64_t n = 1) const;
  // Refusals summed over every client entry.
  uint64_t ReadRejected(RejectReason r) const;

  // Index arguments must already be validated against params() by the caller.
  ClientEntry* client(uint32_t i) const {
    return reinterpret_cast<ClientEntry*>(base_ + layout_.clients_offset) + i;
  }
  LaneView lane(uint32_t i) const {
    auto* recs = reinterpret_cast<LaneRecord*>(base_ + layout_.lanes_offset) +
                 uint64_t{i} * params_.lane_capacity;
    return LaneView(client(i), recs, params_.lane_capacity);
  }
  FreeStackView free_stack() const {
    const uint64_t off = layout_.free_stack_offset;
    return FreeStackView(
        reinterpret_cast<FreeStackHeader*>(base_ + off),
        reinterpret_cast<std::atomic<uint64_t>*>(base_ + off + sizeof(FreeStackHeader)),
        layout_.ring_capacity);
  }
  // The dispatch ring of `priority` (< kPriorityLevels, checked by the caller).
  RingView dispatch_ring(uint32_t priority) const {
    return RingAt(layout_.dispatch_ring_offset + priority * layout_.dispatch_ring_stride);
  }
  StatusEntry* status_entry(uint64_t job_id) const {
    return reinterpret_cast<StatusEntry*>(base_ + layout_.status_offset) +
           (job_id & (layout_.status_entries - 1));
  }
  SlotHeader* slot(uint32_t i) const {
    return reinterpret_cast<SlotHeader*>(base_ + layout_.slots_offset) + i;
  }
  char* payload(uint32_t i) const {
    return base_ + layout_.payloads_offset + uint64_t{i} * layout_.payload_stride;
  }
  // A job's meta follows its payload in the slot's payload area: payload_len + meta_len must be
  // at most max_payload (checked by the caller), so meta costs no memory of its own.
  char* meta(uint32_t i, uint32_t payload_len) const { return payload(i) + payload_len; }
  SlotExtra* extra(uint32_t i) const {
    return reinterpret_cast<SlotExtra*>(base_ + layout_.extras_offset) + i;
  }
  // Client i's result buffer (layout_.result_stride bytes; at most params().max_result of a
  // result, or an error text of at most 2 KiB).
  char* result_buffer(uint32_t client) const {
    return base_ + layout_.results_offset + uint64_t{client} * layout_.result_stride;
  }
  // The outcome index's entries (params().outcome_index_entries of them; none when 0).
  void* outcome_index() const { return base_ + layout_.outcome_index_offset; }
  bool ValidSlot(uint32_t i) const { return i < params_.capacity; }
  bool ValidClient(uint32_t i) const { return i < params_.max_clients; }

 private:
  struct Mapping;
  Segment(std::string queue, std::unique_ptr<Mapping> mapping);
  RingView RingAt(uint64_t offset) const {
    auto* h = reinterpret_cast<RingHeader*>(base_ + offset);
    return RingView(h, reinterpret_cast<RingCell*>(base_ + offset + sizeof(RingHeader)),
                    layout_.ring_capacity);
  }

  std::string queue_;
  bool staged_ = false;     // created but not yet Install()ed
  bool life_held_ = false;  // this process locked daemon_life (Create) and has not released it
  std::unique_ptr<Mapping> mapping_;
  char* base_ = nullptr;
  SegmentHeader* header_ = nullptr;
  Params params_;
  Layout layout_;
};

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_SEGMENT_H_
