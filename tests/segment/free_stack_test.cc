#include "segment/free_stack.h"

#include <gtest/gtest.h>

#include <vector>

namespace taskring::segment {
namespace {

class FreeStackTest : public ::testing::Test {
 protected:
  void Make(uint32_t capacity) {
    memory_.assign((FreeStackBytes(capacity) + 63) / 64, {});
    auto* base = reinterpret_cast<char*>(memory_.data());
    stack_ = FreeStackView(reinterpret_cast<FreeStackHeader*>(base),
                           reinterpret_cast<std::atomic<uint64_t>*>(base + sizeof(FreeStackHeader)),
                           capacity);
    stack_.Init();
  }
  FreeStackHeader* header() { return reinterpret_cast<FreeStackHeader*>(memory_.data()); }
  struct alignas(64) Line {
    char bytes[64];
  };
  std::vector<Line> memory_;
  FreeStackView stack_;
  std::atomic<uint64_t> intent_{0};
};

TEST_F(FreeStackTest, PopsTheNewestFirst) {
  Make(8);
  for (uint64_t v : {11, 12, 13}) ASSERT_TRUE(stack_.Push(v));
  uint64_t v = 0;
  ASSERT_TRUE(stack_.Pop(&intent_, &v));
  EXPECT_EQ(v, 13u);
  ASSERT_TRUE(stack_.Push(14));
  ASSERT_TRUE(stack_.Pop(&intent_, &v));
  EXPECT_EQ(v, 14u) << "the slot freed last is reused first";
  ASSERT_TRUE(stack_.Pop(&intent_, &v));
  EXPECT_EQ(v, 12u);
  EXPECT_EQ(stack_.SizeApprox(), 1u);
}

TEST_F(FreeStackTest, PopRecordsItsValueInTheIntentBeforeTakingIt) {
  Make(4);
  ASSERT_TRUE(stack_.Push(7));
  uint64_t v = 0;
  ASSERT_TRUE(stack_.Pop(&intent_, &v));
  EXPECT_EQ(intent_.load(), 7u);
  intent_ = 99;
  EXPECT_FALSE(stack_.Pop(&intent_, &v)) << "empty";
  EXPECT_EQ(intent_.load(), 99u) << "an empty pop records nothing";
}

TEST_F(FreeStackTest, FullAndEmptyAreRefusedWithoutChange) {
  Make(2);
  ASSERT_TRUE(stack_.Push(1));
  ASSERT_TRUE(stack_.Push(2));
  EXPECT_FALSE(stack_.Push(3));
  EXPECT_EQ(stack_.SizeApprox(), 2u);
  uint64_t v = 0;
  ASSERT_TRUE(stack_.Pop(&intent_, &v));
  ASSERT_TRUE(stack_.Pop(&intent_, &v));
  EXPECT_EQ(v, 1u);
  EXPECT_FALSE(stack_.Pop(&intent_, &v));
}

TEST_F(FreeStackTest, ACorruptDepthIsNeverUsedAsAnIndex) {
  Make(4);
  header()->top.store((uint64_t{5} << 32) | 1000);  // depth past the cells
  uint64_t v = 0;
  EXPECT_FALSE(stack_.Pop(&intent_, &v));
  EXPECT_FALSE(stack_.Push(1));
  EXPECT_EQ(stack_.SizeApprox(), 0u);
}

TEST_F(FreeStackTest, EveryChangeBumpsTheCounterSoAnOldTopCannotWin) {
  Make(4);
  ASSERT_TRUE(stack_.Push(1));
  const uint64_t before = header()->top.load();
  uint64_t v = 0;
  ASSERT_TRUE(stack_.Pop(&intent_, &v));
  ASSERT_TRUE(stack_.Push(2));
  EXPECT_EQ(static_cast<uint32_t>(header()->top.load()), static_cast<uint32_t>(before))
      << "same depth";
  EXPECT_NE(header()->top.load(), before) << "but not the same top word";
}

}  // namespace
}  // namespace taskring::segment
