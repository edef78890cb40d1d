#include "daemon/slot_handoff.h"

#include <gtest/gtest.h>

#include <set>

#include "small_segment.h"

namespace taskring::daemon {
namespace {

using segment::kNoClient;
using segment::PackSlotRef;
using segment::SlotState;

constexpr uint64_t kRepairNs = 1'000'000'000;
constexpr uint32_t kCapacity = 16;

class SlotHandoffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(seg_.status().ok()) << seg_.status().ToString();
    ASSERT_EQ(seg_->layout().ring_capacity, kCapacity) << "the tests fill rings to the brim";
  }
  // Every value in `ring`, popped.
  static std::multiset<uint64_t> Drain(segment::RingView ring) {
    std::multiset<uint64_t> out;
    uint64_t v = 0;
    while (ring.TryPop(&v)) out.insert(v);
    return out;
  }
  // Fills the free ring with every slot (generation 1, FREE), as Engine::Load does.
  void FillFreeRing() {
    for (uint32_t s = 0; s < kCapacity; ++s) {
      seg_.SetSlot(s, 1, kNoClient, SlotState::kFree);
      ASSERT_TRUE(seg_->free_ring().TryPush(PackSlotRef(s, 1)));
    }
  }

  SmallSegment seg_{kCapacity};
  SlotHandoff handoff_{*seg_, kRepairNs};
};

TEST_F(SlotHandoffTest, FreeSlotStartsANewGenerationAndReturnsTheSlot) {
  seg_.SetSlot(3, 5, 2, SlotState::kCompleting);
  handoff_.FreeSlot(3, 0);
  EXPECT_EQ(seg_->slot(3)->word.load(), segment::PackSlotWord(6, kNoClient, SlotState::kFree));
  EXPECT_EQ(Drain(seg_->free_ring()), (std::multiset<uint64_t>{PackSlotRef(3, 6)}));
  EXPECT_EQ(handoff_.free_backlog(), 0u);
}

TEST_F(SlotHandoffTest, DispatchPushesQueuedJobsCountsTheirAttemptAndDropsStaleOnes) {
  seg_.SetSlot(1, 1, kNoClient, SlotState::kQueued);
  seg_.SetSlot(2, 4, kNoClient, SlotState::kQueued);
  handoff_.MarkReady(PackSlotRef(1, 1));
  handoff_.MarkReady(PackSlotRef(2, 3));  // an older generation: stale
  EXPECT_EQ(handoff_.Dispatch(0), 1u);
  EXPECT_EQ(handoff_.ready(), 0u);
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u);
  EXPECT_EQ(seg_->slot(2)->attempt.load(), 0u);
  EXPECT_EQ(Drain(seg_->dispatch_ring()), (std::multiset<uint64_t>{PackSlotRef(1, 1)}));
}

TEST_F(SlotHandoffTest, JobsThatDoNotFitWaitInOrderWithoutCountingAnAttempt) {
  for (uint32_t i = 0; i + 1 < kCapacity; ++i) ASSERT_TRUE(seg_->dispatch_ring().TryPush(999));
  for (uint32_t s = 0; s < 3; ++s) {
    seg_.SetSlot(s, 1, kNoClient, SlotState::kQueued);
    handoff_.MarkReady(PackSlotRef(s, 1));
  }
  EXPECT_EQ(handoff_.Dispatch(0), 1u);
  EXPECT_EQ(handoff_.ready(), 2u);
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 0u);
  uint64_t v = 0;
  ASSERT_TRUE(seg_->dispatch_ring().TryPop(&v));
  EXPECT_EQ(handoff_.Dispatch(0), 1u);
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u) << "first in, first out";
  EXPECT_EQ(seg_->slot(2)->attempt.load(), 0u);
}

// A producer that dies between moving the free ring's head and releasing the cell leaves the
// cell claimed; the push that needs it fails until the repair timeout, then the slot it took
// (never claimed) is offered again, and nothing is lost.
TEST_F(SlotHandoffTest, FreeRingCellLeftClaimedIsRepairedAfterTheTimeout) {
  FillFreeRing();
  segment::RingView ring = seg_->free_ring();
  ring.header()->head.fetch_add(1);  // the dying producer: slot 0's cell, claimed, unreleased
  uint64_t ref = 0;
  ASSERT_TRUE(ring.TryPop(&ref));  // a live producer takes slot 1 and runs the job
  ASSERT_EQ(ref, PackSlotRef(1, 1));
  seg_.SetSlot(1, 1, 4, SlotState::kCompleting);

  const uint64_t t0 = 5'000'000'000;
  handoff_.FreeSlot(1, t0);
  EXPECT_EQ(handoff_.free_backlog(), 1u) << "the tail cell is still claimed";
  handoff_.FlushFree(t0 + kRepairNs - 1);
  EXPECT_EQ(handoff_.free_backlog(), 1u) << "not before the repair timeout";
  handoff_.FlushFree(t0 + kRepairNs);
  EXPECT_EQ(handoff_.free_backlog(), 0u);
  std::multiset<uint64_t> want;
  for (uint32_t s = 2; s < kCapacity; ++s) want.insert(PackSlotRef(s, 1));
  want.insert(PackSlotRef(0, 1));  // offered again: nobody claimed it
  want.insert(PackSlotRef(1, 2));  // freed under a new generation
  EXPECT_EQ(Drain(ring), want);
}

TEST_F(SlotHandoffTest, RepairedCellWhoseSlotWasClaimedIsNotOfferedTwice) {
  FillFreeRing();
  segment::RingView ring = seg_->free_ring();
  ring.header()->head.fetch_add(1);
  seg_.SetSlot(0, 1, 4, SlotState::kWriting);  // it got as far as claiming slot 0
  uint64_t ref = 0;
  ASSERT_TRUE(ring.TryPop(&ref));
  seg_.SetSlot(1, 1, 5, SlotState::kCompleting);
  handoff_.FreeSlot(1, 0);
  handoff_.FlushFree(kRepairNs);
  EXPECT_EQ(handoff_.free_backlog(), 0u);
  const std::multiset<uint64_t> got = Drain(ring);
  EXPECT_EQ(got.count(PackSlotRef(0, 1)), 0u) << "slot 0 is its claimer's";
  EXPECT_EQ(got.count(PackSlotRef(1, 2)), 1u);
  EXPECT_EQ(got.size(), kCapacity - 1);
}

TEST_F(SlotHandoffTest, DispatchRingCellLeftClaimedHandsItsJobOutAgain) {
  segment::RingView ring = seg_->dispatch_ring();
  for (uint32_t s = 0; s < kCapacity; ++s) {
    seg_.SetSlot(s, 1, kNoClient, SlotState::kQueued);
    handoff_.MarkReady(PackSlotRef(s, 1));
  }
  ASSERT_EQ(handoff_.Dispatch(0), kCapacity);
  ring.header()->head.fetch_add(1);  // a worker dies mid-pop holding slot 0's cell, unleased
  uint64_t v = 0;
  ASSERT_TRUE(ring.TryPop(&v));  // a live worker takes slot 1, and its job comes back (retry)
  seg_.SetSlot(1, 2, kNoClient, SlotState::kQueued);
  handoff_.MarkReady(PackSlotRef(1, 2));

  EXPECT_EQ(handoff_.Dispatch(10), 0u) << "the tail cell is the dead worker's";
  EXPECT_EQ(handoff_.Dispatch(10 + kRepairNs), 0u) << "repaired; pushed on the next step";
  EXPECT_EQ(handoff_.ready(), 2u) << "slot 1 and, again, slot 0";
  EXPECT_EQ(handoff_.Dispatch(11 + kRepairNs), 2u);
  std::multiset<uint64_t> want;
  for (uint32_t s = 2; s < kCapacity; ++s) want.insert(PackSlotRef(s, 1));
  want.insert(PackSlotRef(1, 2));
  want.insert(PackSlotRef(0, 1));
  EXPECT_EQ(Drain(ring), want);
  EXPECT_EQ(seg_->slot(0)->attempt.load(), 2u) << "counted at each push: errs towards dead";
}

}  // namespace
}  // namespace taskring::daemon
