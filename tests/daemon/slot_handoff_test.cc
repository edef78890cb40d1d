#include "daemon/slot_handoff.h"

#include <gtest/gtest.h>

#include <set>

#include "admission/admission.h"
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
  // Every value in the free stack, popped.
  std::multiset<uint64_t> DrainFree() {
    std::multiset<uint64_t> out;
    std::atomic<uint64_t> intent{0};
    uint64_t v = 0;
    while (seg_->free_stack().Pop(&intent, &v)) out.insert(v);
    return out;
  }
  // Fills the free stack with every slot (generation 1, FREE), as Engine::Load does.
  void FillFreeStack() {
    for (uint32_t s = kCapacity; s-- > 0;) {
      seg_.SetSlot(s, 1, kNoClient, SlotState::kFree);
      ASSERT_TRUE(seg_->free_stack().Push(PackSlotRef(s, 1)));
    }
  }

  SmallSegment seg_{kCapacity};
  SlotHandoff handoff_{*seg_, kRepairNs};
};

TEST_F(SlotHandoffTest, FreeSlotStartsANewGenerationAndReturnsTheSlot) {
  seg_.SetSlot(3, 5, 2, SlotState::kCompleting);
  handoff_.FreeSlot(3);
  EXPECT_EQ(seg_->slot(3)->word.load(), segment::PackSlotWord(6, kNoClient, SlotState::kFree));
  EXPECT_EQ(DrainFree(), (std::multiset<uint64_t>{PackSlotRef(3, 6)}));
  EXPECT_EQ(handoff_.free_backlog(), 0u);
}

TEST_F(SlotHandoffTest, DispatchPushesQueuedJobsCountsTheirAttemptAndDropsStaleOnes) {
  seg_.SetSlot(1, 1, kNoClient, SlotState::kQueued);
  seg_.SetSlot(2, 4, kNoClient, SlotState::kQueued);
  handoff_.MarkReady(PackSlotRef(1, 1), taskring::kDefaultPriority);
  handoff_.MarkReady(PackSlotRef(2, 3), taskring::kDefaultPriority);  // an older generation: stale
  EXPECT_EQ(handoff_.Dispatch(0), 1u);
  EXPECT_EQ(handoff_.ready(), 0u);
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u);
  EXPECT_EQ(seg_->slot(2)->attempt.load(), 0u);
  EXPECT_EQ(Drain(seg_->dispatch_ring(taskring::kDefaultPriority)),
            (std::multiset<uint64_t>{PackSlotRef(1, 1)}));
}

TEST_F(SlotHandoffTest, JobsThatDoNotFitWaitInOrderWithoutCountingAnAttempt) {
  for (uint32_t i = 0; i + 1 < kCapacity; ++i)
    ASSERT_TRUE(seg_->dispatch_ring(taskring::kDefaultPriority).TryPush(999));
  for (uint32_t s = 0; s < 3; ++s) {
    seg_.SetSlot(s, 1, kNoClient, SlotState::kQueued);
    handoff_.MarkReady(PackSlotRef(s, 1), taskring::kDefaultPriority);
  }
  EXPECT_EQ(handoff_.Dispatch(0), 1u);
  EXPECT_EQ(handoff_.ready(), 2u);
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 0u);
  uint64_t v = 0;
  ASSERT_TRUE(seg_->dispatch_ring(taskring::kDefaultPriority).TryPop(&v));
  EXPECT_EQ(handoff_.Dispatch(0), 1u);
  EXPECT_EQ(seg_->slot(1)->attempt.load(), 1u) << "first in, first out";
  EXPECT_EQ(seg_->slot(2)->attempt.load(), 0u);
}

// A producer that dies after popping a slot from the free stack and before claiming it: the
// slot named in its entry's `popping` word is offered again, and nothing is lost.
TEST_F(SlotHandoffTest, SlotPoppedByAProducerThatDiedBeforeClaimingItIsOfferedAgain) {
  FillFreeStack();
  std::atomic<uint64_t> popping{0};
  uint64_t ref = 0;
  ASSERT_TRUE(seg_->free_stack().Pop(&popping, &ref));  // ... and the producer dies here
  EXPECT_TRUE(handoff_.OfferIfUnclaimed(popping.load()));
  std::multiset<uint64_t> want;
  for (uint32_t s = 0; s < kCapacity; ++s) want.insert(PackSlotRef(s, 1));
  EXPECT_EQ(DrainFree(), want);
}

// Died before its pop took effect: the reference is then in the stack twice. Admission hands the
// slot out once and skips the copy.
TEST_F(SlotHandoffTest, ASlotOfferedTwiceIsHandedOutOnce) {
  FillFreeStack();
  ASSERT_TRUE(handoff_.OfferIfUnclaimed(PackSlotRef(0, 1)));
  std::set<uint32_t> slots;
  uint32_t slot = 0, gen = 0;
  while (admission::TryAcquireSlot(*seg_, 4, &slot, &gen)) {
    EXPECT_TRUE(slots.insert(slot).second) << "slot " << slot << " handed out twice";
  }
  EXPECT_EQ(slots.size(), kCapacity);
}

TEST_F(SlotHandoffTest, AClaimedOrReusedSlotIsNotOfferedAgain) {
  FillFreeStack();
  uint32_t slot = 0, gen = 0;
  ASSERT_TRUE(admission::TryAcquireSlot(*seg_, 4, &slot, &gen));
  const uint64_t popped = seg_->client(4)->popping.load();
  EXPECT_EQ(popped, PackSlotRef(slot, gen));
  EXPECT_FALSE(handoff_.OfferIfUnclaimed(popped)) << "claimed: it is its producer's";
  seg_.SetSlot(slot, gen + 1, kNoClient, SlotState::kFree);  // run and freed since
  EXPECT_FALSE(handoff_.OfferIfUnclaimed(popped)) << "an older generation";
  EXPECT_FALSE(handoff_.OfferIfUnclaimed(0)) << "nothing popped";
  EXPECT_FALSE(handoff_.OfferIfUnclaimed(PackSlotRef(kCapacity + 5, 1))) << "no such slot";
  EXPECT_EQ(seg_->free_stack().SizeApprox(), kCapacity - 1);
}

TEST_F(SlotHandoffTest, DispatchRingCellLeftClaimedHandsItsJobOutAgain) {
  segment::RingView ring = seg_->dispatch_ring(taskring::kDefaultPriority);
  for (uint32_t s = 0; s < kCapacity; ++s) {
    seg_.SetSlot(s, 1, kNoClient, SlotState::kQueued);
    handoff_.MarkReady(PackSlotRef(s, 1), taskring::kDefaultPriority);
  }
  ASSERT_EQ(handoff_.Dispatch(0), kCapacity);
  ring.header()->head.fetch_add(1);  // a worker dies mid-pop holding slot 0's cell, unleased
  uint64_t v = 0;
  ASSERT_TRUE(ring.TryPop(&v));  // a live worker takes slot 1, and its job comes back (retry)
  seg_.SetSlot(1, 2, kNoClient, SlotState::kQueued);
  handoff_.MarkReady(PackSlotRef(1, 2), taskring::kDefaultPriority);

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
