#include "daemon/job_router.h"

#include <gtest/gtest.h>

#include <set>

#include "small_segment.h"
#include "util/job_meta.h"

namespace taskring::daemon {
namespace {

using segment::kNoClient;
using segment::PackSlotRef;
using segment::SlotState;

constexpr uint32_t kCapacity = 16;

// The test plays the clients: it claims entries as workers, declares types and waits (want).
class JobRouterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(seg_.status().ok()) << seg_.status().ToString(); }

  // An active worker entry declaring `types` (none: takes every job).
  void AddWorker(uint32_t client, std::vector<std::string> types, bool untyped = false) {
    segment::ClientEntry* e = seg_->client(client);
    e->role.store(static_cast<uint32_t>(segment::ClientRole::kWorker));
    for (size_t i = 0; i < types.size(); ++i) e->type_hashes[i] = util::JobTypeHash(types[i]);
    e->type_count.store(static_cast<uint32_t>(types.size()));
    e->takes_untyped.store(untyped || types.empty() ? 1 : 0);
    e->owner.store(segment::PackClientOwner(1000 + static_cast<int32_t>(client),
                                            segment::ClientState::kActive));
    seg_->header()->clients_epoch.fetch_add(1);
  }
  void RemoveWorker(uint32_t client) {
    router_.ReleaseWorker(client);
    seg_->client(client)->owner.store(0);
    seg_->header()->clients_epoch.fetch_add(1);
  }
  // A queued job in `slot` (generation 1) of `type` and `priority`, handed to the router.
  uint64_t Queue(uint32_t slot, const std::string& type, uint8_t priority = 5) {
    seg_.SetSlot(slot, 1, kNoClient, SlotState::kQueued);
    seg_->slot(slot)->priority = priority;
    seg_->slot(slot)->attempt.store(0);
    router_.SetType(slot, util::JobTypeHash(type));
    const uint64_t ref = PackSlotRef(slot, 1);
    router_.Ready(ref);
    return ref;
  }
  void Want(uint32_t client, bool on) { seg_->client(client)->want.store(on ? 1 : 0); }
  uint64_t Offer(uint32_t client) { return seg_->client(client)->offer.load(); }
  // What a worker does with its offer: clear the cell, claim the slot.
  bool TakeOffer(uint32_t client) {
    segment::ClientEntry* e = seg_->client(client);
    uint64_t ref = e->offer.load();
    if (ref == 0 || !e->offer.compare_exchange_strong(ref, 0)) return false;
    uint64_t expected = segment::PackSlotWord(segment::RefGen(ref), kNoClient, SlotState::kQueued);
    return seg_->slot(segment::RefSlot(ref))
        ->word.compare_exchange_strong(
            expected, segment::PackSlotWord(segment::RefGen(ref), client, SlotState::kRunning));
  }
  std::multiset<uint64_t> Ring(uint32_t priority) {
    std::multiset<uint64_t> out;
    uint64_t v = 0;
    while (seg_->dispatch_ring(priority).TryPop(&v)) out.insert(v);
    return out;
  }

  SmallSegment seg_{kCapacity, "router"};
  SlotHandoff handoff_{*seg_, 1'000'000'000};
  JobRouter router_{*seg_, handoff_};
};

TEST_F(JobRouterTest, UntypedJobsGoToTheRingOfTheirPriority) {
  AddWorker(0, {});
  const uint64_t low = Queue(1, "", 2), high = Queue(2, "", 9);
  router_.Dispatch(0);
  EXPECT_EQ(Ring(2), (std::multiset<uint64_t>{low}));
  EXPECT_EQ(Ring(9), (std::multiset<uint64_t>{high}));
  EXPECT_EQ(seg_->header()->priorities_in_use.load(), (1u << 2) | (1u << 9));
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u) << "a push counts the attempt";
}

TEST_F(JobRouterTest, ADeclaringWorkerIsOfferedItsTypesOnlyWhileItWaitsBestFirst) {
  AddWorker(0, {"resize"});
  const uint64_t r1 = Queue(1, "resize", 3), r2 = Queue(2, "resize", 8);
  const uint64_t email = Queue(3, "email", 9);
  router_.Dispatch(0);
  EXPECT_EQ(Offer(0), 0u) << "not waiting: no offer";
  Want(0, true);
  router_.Dispatch(0);
  EXPECT_EQ(Offer(0), r2) << "the higher priority first";
  EXPECT_EQ(seg_->slot(2)->attempt.load(), 1u);
  ASSERT_TRUE(TakeOffer(0));
  router_.Dispatch(0);
  EXPECT_EQ(Offer(0), r1);
  ASSERT_TRUE(TakeOffer(0));
  router_.Dispatch(0);
  EXPECT_EQ(Offer(0), 0u) << "the email job is not this worker's";
  EXPECT_EQ(router_.waiting_undeclared(), 1u) << "and no worker can take it";
  for (uint32_t p = 0; p < segment::kPriorityLevels; ++p) EXPECT_TRUE(Ring(p).empty());
  (void)email;
}

TEST_F(JobRouterTest, AnOfferLeftByAWorkerThatStoppedWaitingComesBack) {
  AddWorker(0, {"t"});
  AddWorker(1, {"t"});
  const uint64_t job = Queue(1, "t");
  Want(0, true);
  router_.Dispatch(0);
  ASSERT_EQ(Offer(0), job);
  Want(0, false);  // it gave up (Take timed out) before taking it
  Want(1, true);
  router_.Dispatch(0);
  EXPECT_EQ(Offer(0), 0u);
  EXPECT_EQ(Offer(1), job) << "taken back and offered to the worker that waits";
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u) << "counted once, not per offer";
}

TEST_F(JobRouterTest, AnOfferNotTakenInTimeGoesToAnotherWaitingWorker) {
  AddWorker(0, {"t"});
  const uint64_t job = Queue(1, "t");
  Want(0, true);
  router_.Dispatch(1000);
  ASSERT_EQ(Offer(0), job);
  AddWorker(1, {"t"});  // worker 0 is stopped (SIGSTOP) while "waiting"; worker 1 waits too
  Want(1, true);
  router_.Dispatch(1000 + JobRouter::kOfferTimeoutNs - 1);
  EXPECT_EQ(Offer(0), job) << "not yet";
  EXPECT_EQ(Offer(1), 0u);
  router_.Dispatch(1000 + JobRouter::kOfferTimeoutNs);
  EXPECT_EQ(Offer(0) + Offer(1), job) << "taken back and offered again, to one of them";
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u);
}

TEST_F(JobRouterTest, AWorkerThatDiedBetweenClearingItsOfferAndClaimingLosesNothing) {
  AddWorker(0, {"t"});
  AddWorker(1, {"t"});
  const uint64_t job = Queue(1, "t");
  Want(0, true);
  router_.Dispatch(0);
  ASSERT_EQ(Offer(0), job);
  // Worker 0 records what it takes, clears the cell ... and dies before its claim.
  seg_->client(0)->taking.store(job);
  uint64_t ref = job;
  ASSERT_TRUE(seg_->client(0)->offer.compare_exchange_strong(ref, 0));
  RemoveWorker(0);
  Want(1, true);
  router_.Dispatch(0);
  EXPECT_EQ(Offer(1), job);
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u);
}

TEST_F(JobRouterTest, TypedJobsGoToTheRingsWhenOnlyAnyTypeWorkersLiveAndBackWhenTheyLeave) {
  AddWorker(0, {});
  const uint64_t job = Queue(1, "report", 4);
  router_.Dispatch(0);
  EXPECT_EQ(router_.waiting_undeclared(), 0u);
  // In ring 4 now; the any-type worker leaves before taking it, a declaring one arrives.
  RemoveWorker(0);
  AddWorker(1, {"report"});
  Want(1, true);
  router_.Dispatch(0);
  EXPECT_EQ(Offer(1), job) << "recalled from the ring and offered";
  EXPECT_TRUE(Ring(4).empty());
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u);
}

TEST_F(JobRouterTest, TypedJobsTakenBackFromTheRingsKeepTheirOrder) {
  AddWorker(0, {});
  const uint64_t first = Queue(1, "t"), second = Queue(2, "t"), third = Queue(3, "t");
  router_.Dispatch(0);  // all three in ring 5, for the any-type worker
  RemoveWorker(0);
  AddWorker(1, {"t"});
  for (const uint64_t want : {first, second, third}) {
    Want(1, true);
    router_.Dispatch(0);
    ASSERT_EQ(Offer(1), want) << "FIFO within a priority, across the recall";
    ASSERT_TRUE(TakeOffer(1));
  }
}

TEST_F(JobRouterTest, RecallEmptiesRingsAndOffersAndPauseHandsOutNothing) {
  AddWorker(0, {});
  AddWorker(1, {"t"});
  const uint64_t plain = Queue(1, "", 5), typed = Queue(2, "t", 5);
  Want(1, true);
  router_.Dispatch(0);
  ASSERT_EQ(Offer(1), typed);
  seg_->header()->paused.store(1);
  EXPECT_EQ(router_.Recall(), 2u);
  EXPECT_EQ(Offer(1), 0u);
  EXPECT_TRUE(Ring(5).empty());
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 0u) << "attempts of jobs never taken are uncounted";
  EXPECT_EQ(seg_->slot(2)->attempt.load(), 0u);
  router_.Dispatch(0);
  EXPECT_EQ(Offer(1), 0u);
  EXPECT_TRUE(Ring(5).empty());
  seg_->header()->paused.store(0);
  router_.Dispatch(0);
  EXPECT_EQ(Offer(1), typed);
  EXPECT_EQ(Ring(5), (std::multiset<uint64_t>{plain}));
}

TEST_F(JobRouterTest, AStaleOfferIsNotClaimedTwice) {
  AddWorker(1, {"t"});
  const uint64_t job = Queue(1, "t");
  Want(1, true);
  router_.Dispatch(0);
  ASSERT_EQ(Offer(1), job);
  // Another path claimed the slot meanwhile (a recall raced a claim): the offer is stale.
  seg_.SetSlot(1, 1, 3, SlotState::kRunning);
  EXPECT_FALSE(TakeOffer(1));
}

}  // namespace
}  // namespace taskring::daemon
