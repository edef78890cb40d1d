#include "segment/ring.h"

#include <gtest/gtest.h>

#include <vector>

#include "segment/slot.h"

namespace taskring::segment {
namespace {

class RingTest : public ::testing::Test {
 protected:
  void Make(uint32_t capacity) {
    memory_.assign((RingBytes(capacity) + 63) / 64, {});
    auto* base = reinterpret_cast<char*>(memory_.data());
    ring_ = RingView(reinterpret_cast<RingHeader*>(base),
                     reinterpret_cast<RingCell*>(base + sizeof(RingHeader)), capacity);
    ring_.Init();
  }
  struct alignas(64) Line {
    char bytes[64];
  };
  std::vector<Line> memory_;
  RingView ring_;
};

TEST_F(RingTest, PopsInPushOrder) {
  Make(8);
  for (uint64_t v = 10; v < 15; ++v) ASSERT_TRUE(ring_.TryPush(v));
  EXPECT_EQ(ring_.SizeApprox(), 5u);
  for (uint64_t v = 10; v < 15; ++v) {
    uint64_t out = 0;
    ASSERT_TRUE(ring_.TryPop(&out));
    EXPECT_EQ(out, v);
  }
  uint64_t out = 0;
  EXPECT_FALSE(ring_.TryPop(&out)) << "empty";
}

TEST_F(RingTest, PushFailsWhenFullAndRecoversAfterPop) {
  Make(4);
  for (uint64_t v = 0; v < 4; ++v) ASSERT_TRUE(ring_.TryPush(v));
  EXPECT_FALSE(ring_.TryPush(99));
  uint64_t out = 0;
  ASSERT_TRUE(ring_.TryPop(&out));
  EXPECT_TRUE(ring_.TryPush(4));
  // Wraps around many times without losing order.
  for (uint64_t v = 5; v < 1000; ++v) {
    ASSERT_TRUE(ring_.TryPop(&out));
    EXPECT_EQ(out, v - 4);
    ASSERT_TRUE(ring_.TryPush(v));
  }
}

TEST_F(RingTest, ClaimRunsBeforeTheCellIsReleased) {
  Make(2);
  ASSERT_TRUE(ring_.TryPush(1));
  ASSERT_TRUE(ring_.TryPush(2));
  uint64_t out = 0;
  bool ran = false;
  ASSERT_TRUE(ring_.TryPopClaim(&out, [&](uint64_t v) {
    ran = true;
    EXPECT_EQ(v, 1u);
    EXPECT_FALSE(ring_.TryPush(3)) << "the cell is still held while the claim runs";
  }));
  EXPECT_TRUE(ran);
  EXPECT_TRUE(ring_.TryPush(3)) << "released after the claim";
}

TEST_F(RingTest, CellOfAConsumerThatDiedMidPopIsRepairedByThePusher) {
  Make(4);
  for (uint64_t v = 10; v < 14; ++v) ASSERT_TRUE(ring_.TryPush(v));
  // A consumer moves head past position 0 and dies before releasing the cell.
  ring_.header()->head.fetch_add(1);
  uint64_t out = 0;
  for (uint64_t v = 11; v < 14; ++v) {
    ASSERT_TRUE(ring_.TryPop(&out));
    EXPECT_EQ(out, v);
  }
  EXPECT_FALSE(ring_.TryPush(20)) << "the dead consumer's cell blocks the wrap";
  uint64_t taken = 0;
  ASSERT_TRUE(ring_.RepairStuckTail(&taken));
  EXPECT_EQ(taken, 10u) << "the value the dead consumer had taken";
  EXPECT_TRUE(ring_.TryPush(20));
  ASSERT_TRUE(ring_.TryPop(&out));
  EXPECT_EQ(out, 20u);
  EXPECT_FALSE(ring_.RepairStuckTail(&taken)) << "nothing left to repair";
}

TEST_F(RingTest, FullRingIsNotMistakenForAStuckOne) {
  Make(4);
  for (uint64_t v = 0; v < 4; ++v) ASSERT_TRUE(ring_.TryPush(v));
  uint64_t taken = 0;
  EXPECT_FALSE(ring_.RepairStuckTail(&taken));
  EXPECT_EQ(ring_.SizeApprox(), 4u);
}

TEST_F(RingTest, LateReleaseAfterRepairFailsHarmlessly) {
  Make(2);
  ASSERT_TRUE(ring_.TryPush(1));
  ASSERT_TRUE(ring_.TryPush(2));
  uint64_t out = 0, taken = 0;
  // A stopped consumer: the repair happens while it is inside its claim.
  ASSERT_TRUE(ring_.TryPopClaim(&out, [&](uint64_t) {
    uint64_t o = 0;
    ASSERT_TRUE(ring_.TryPop(&o));
    EXPECT_FALSE(ring_.TryPush(3));
    ASSERT_TRUE(ring_.RepairStuckTail(&taken));
    ASSERT_TRUE(ring_.TryPush(3));
  }));
  EXPECT_EQ(out, 1u);
  EXPECT_EQ(taken, 1u);
  ASSERT_TRUE(ring_.TryPop(&out)) << "the repaired cell's new value survives the late release";
  EXPECT_EQ(out, 3u);
}

TEST(SlotRefTest, PacksSlotAndGeneration) {
  const uint64_t ref = PackSlotRef(123456, 0xfffffffe);
  EXPECT_EQ(RefSlot(ref), 123456u);
  EXPECT_EQ(RefGen(ref), 0xfffffffeu);
  const uint64_t word = PackSlotWord(7, 513, SlotState::kRunning);
  EXPECT_EQ(SlotGen(word), 7u);
  EXPECT_EQ(SlotOwner(word), 513u);
  EXPECT_EQ(SlotStateOf(word), SlotState::kRunning);
}

}  // namespace
}  // namespace taskring::segment
