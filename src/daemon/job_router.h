// Typed jobs: where each goes. Untyped jobs (and typed ones that only "any type" workers can
// take) go to the dispatch rings, one per priority, which every worker without a type
// declaration pops (SlotHandoff). A worker that declares types (WorkerOptions::types) never
// pops a job it did not ask for: the daemon offers it one job at a time, through its client
// entry's `offer` cell, while it waits in Take (`want`). The router holds the typed jobs
// meanwhile, per type and priority, and picks for each waiting worker the highest-priority job
// of its types (FIFO within a priority).
//
// Where a typed job goes, decided anew at every step:
//   a live worker declares its type        -> offered to such workers only
//   none does, but an any-type worker lives -> its dispatch ring (any-type workers take it)
//   no live worker can take it              -> it waits here (counted: waiting_undeclared)
// An offer is a hint like a ring cell: the slot's state word decides who owns the job. Offers a
// worker left (it stopped waiting), did not take within kOfferTimeoutNs (it is stopped or
// starved of CPU: another worker may take the job) or never took (it died) come back.
// Owned by the engine thread.
#ifndef TASKRING_DAEMON_JOB_ROUTER_H_
#define TASKRING_DAEMON_JOB_ROUTER_H_

#include <array>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "daemon/slot_handoff.h"
#include "segment/segment.h"

namespace taskring::daemon {

class JobRouter {
 public:
  JobRouter(const segment::Segment& seg, SlotHandoff& handoff);

  // The job in `slot` is of type `type_hash` (0: untyped); kept until the slot is reused.
  void SetType(uint32_t slot, uint64_t type_hash) { type_of_[slot] = type_hash; }
  uint64_t type_of(uint32_t slot) const { return type_of_[slot]; }

  // A QUEUED job, ready to be handed out.
  void Ready(uint64_t slot_ref);
  // One step: re-reads worker declarations if the client table changed, takes back offers
  // nobody is waiting for, offers typed jobs to waiting workers, sends typed jobs only any-type
  // workers can take to the rings, then pushes the rings (SlotHandoff::Dispatch).
  void Dispatch(uint64_t now_mono_ns);
  // Wakes the workers sleeping for what Dispatch pushed to the rings (after producers were told).
  void WakeWorkers();
  // Takes back everything handed out but not yet taken: the rings' jobs and every offer
  // (pause). Returns how many.
  uint64_t Recall();
  // The entry of `client` is being released: what it was offered or was taking and never
  // claimed is handed out again. Call before the entry is cleared.
  void ReleaseWorker(uint32_t client);

  uint64_t waiting_undeclared() const { return waiting_undeclared_; }

  // A waiting worker takes its offer within microseconds of its wake-up; one that has not after
  // this long is not running.
  static constexpr uint64_t kOfferTimeoutNs = 500'000'000;
  size_t held() const { return held_; }

 private:
  struct Declared {
    uint32_t client;
    bool takes_untyped;
    std::vector<uint64_t> types;
  };
  struct TypeQueue {
    std::array<std::deque<uint64_t>, segment::kPriorityLevels> by_priority;
    size_t size = 0;
  };
  void RefreshWorkers();
  // Takes back every job in the rings; the typed ones are held here again, in their order.
  uint64_t RecallTypedFromRings();
  // Still QUEUED and unowned under the ref's generation.
  bool StillQueued(uint64_t ref) const;
  uint32_t PriorityOf(uint64_t ref) const;
  void Hold(uint64_t ref, bool front = false);
  // CAS the offer cell of `client` back to empty; if the job was not taken, it is held again.
  // Returns the ref taken back (0: none).
  uint64_t TakeBackOffer(uint32_t client);
  // The best job for `w` (removed from its queue), or 0.
  uint64_t PickFor(const Declared& w);

  const segment::Segment& seg_;
  SlotHandoff& handoff_;
  std::vector<uint64_t> type_of_;       // per slot
  std::vector<uint64_t> offered_mono_;  // per client: when its offer was made
  std::unordered_map<uint64_t, TypeQueue> held_by_type_;
  size_t held_ = 0;
  std::vector<Declared> declared_;          // workers with a type declaration
  uint32_t any_type_workers_ = UINT32_MAX;  // unknown until the first refresh
  uint32_t seen_epoch_ = UINT32_MAX;
  uint64_t waiting_undeclared_ = 0;
  bool pushed_since_wake_ = false;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_JOB_ROUTER_H_
