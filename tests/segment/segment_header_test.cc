#include "segment/segment_header.h"

#include <gtest/gtest.h>

#include <cstring>

#include "segment/slot.h"
#include "test_util.h"

namespace taskring::segment {
namespace {

Params GoodParams() { return Params{1000, 512, 16, 64}; }

TEST(LayoutTest, RegionsAreOrderedAlignedAndFitTheTotal) {
  Layout l;
  ASSERT_OK(ComputeLayout(GoodParams(), &l));
  EXPECT_EQ(l.ring_capacity, 1024u);
  EXPECT_EQ(l.status_entries, 4096u);
  EXPECT_EQ(l.payload_stride % kCacheLine, 0u);
  EXPECT_GE(l.payload_stride, 512u);
  const uint64_t offsets[] = {l.counters_offset,   l.clients_offset,       l.lanes_offset,
                              l.free_stack_offset, l.dispatch_ring_offset, l.status_offset,
                              l.slots_offset,      l.total_bytes};
  EXPECT_GE(offsets[0], kHeaderBytes);
  for (size_t i = 1; i < std::size(offsets); ++i) {
    EXPECT_GT(offsets[i], offsets[i - 1]) << "region " << i;
    EXPECT_EQ(offsets[i] % 4096, 0u) << "region " << i;
  }
  EXPECT_GE(l.total_bytes,
            l.slots_offset + SlotHeadersBytes(1000) + uint64_t{1000} * l.payload_stride);
}

TEST(LayoutTest, RejectsOutOfRangeParameters) {
  Layout l;
  Params p = GoodParams();
  p.capacity = 0;
  EXPECT_TRUE(ComputeLayout(p, &l).IsInvalidArgument());
  p = GoodParams();
  p.max_payload = kMaxPayload + 1;
  EXPECT_TRUE(ComputeLayout(p, &l).IsInvalidArgument());
  p = GoodParams();
  p.lane_capacity = 100;  // not a power of two
  EXPECT_TRUE(ComputeLayout(p, &l).IsInvalidArgument());
  p = GoodParams();
  p.capacity = kMaxCapacity;
  p.max_payload = kMaxPayload;  // 16M x 16 MiB: far beyond the segment limit
  const Status s = ComputeLayout(p, &l);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.ToString().find("MiB"), std::string::npos) << s.ToString();
}

class HeaderValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(ComputeLayout(GoodParams(), &layout_));
    memory_.assign(kHeaderBytes / 8, 0);
    h_ = reinterpret_cast<SegmentHeader*>(memory_.data());
    h_->magic = kMagic;
    h_->header_bytes = kHeaderBytes;
    h_->params = GoodParams();
    h_->layout = layout_;
    h_->segment_bytes = layout_.total_bytes;
    h_->layout_version.store(kLayoutVersion);
  }
  Status Validate(uint64_t mapped) {
    Params p;
    Layout l;
    return ValidateHeader(h_, mapped, &p, &l);
  }
  Layout layout_;
  std::vector<uint64_t> memory_;
  SegmentHeader* h_ = nullptr;
};

TEST_F(HeaderValidationTest, AcceptsAConsistentHeader) {
  Params p;
  Layout l;
  ASSERT_OK(ValidateHeader(h_, layout_.total_bytes, &p, &l));
  EXPECT_EQ(p.capacity, 1000u);
  EXPECT_TRUE(l == layout_);
}

TEST_F(HeaderValidationTest, ForeignMagicIsCorruption) {
  h_->magic = 0x1234;
  EXPECT_TRUE(Validate(layout_.total_bytes).IsCorruption());
}

TEST_F(HeaderValidationTest, OtherLayoutVersionIsIncompatible) {
  h_->layout_version.store(kLayoutVersion + 1);
  const Status s = Validate(layout_.total_bytes);
  EXPECT_TRUE(s.IsIncompatible()) << s.ToString();
}

TEST_F(HeaderValidationTest, VersionZeroMeansNotReadyYet) {
  h_->layout_version.store(0);
  EXPECT_TRUE(Validate(layout_.total_bytes).IsNotReady());
}

TEST_F(HeaderValidationTest, TamperedRegionTableIsCorruption) {
  h_->layout.slots_offset += 64;  // would point readers into the wrong region
  EXPECT_TRUE(Validate(layout_.total_bytes).IsCorruption());
}

TEST_F(HeaderValidationTest, ParametersBeyondLimitsAreCorruption) {
  h_->params.capacity = 0xffffffff;
  EXPECT_TRUE(Validate(layout_.total_bytes).IsCorruption());
}

TEST_F(HeaderValidationTest, MappingShorterThanRecordedSizeIsCorruption) {
  EXPECT_TRUE(Validate(layout_.total_bytes - 4096).IsCorruption());
  EXPECT_TRUE(Validate(100).IsCorruption());
}

TEST_F(HeaderValidationTest, UnterminatedQueueNameIsCorruption) {
  std::memset(h_->queue_name, 'x', sizeof(h_->queue_name));
  EXPECT_TRUE(Validate(layout_.total_bytes).IsCorruption());
}

}  // namespace
}  // namespace taskring::segment
