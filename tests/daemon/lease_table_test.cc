#include "daemon/lease_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace taskring::daemon {
namespace {

constexpr uint64_t kLeaseNs = 1000;
constexpr uint64_t kScan = LeaseTable::kScanIntervalNs;

struct Expired {
  uint32_t slot;
  LeaseTable::Holder holder;
};

std::vector<Expired> ExpireAt(LeaseTable& t, uint64_t now) {
  std::vector<Expired> out;
  t.ExpireDue(now, [&](uint32_t slot, const LeaseTable::Holder& h, bool) {
    out.push_back({slot, h});
  });
  return out;
}

TEST(LeaseTableTest, FirstRenewalStartsTheLeaseLaterOnesExtendIt) {
  LeaseTable t(8, kLeaseNs);
  const LeaseTable::Holder h{3, 1, 1};
  EXPECT_TRUE(t.Renew(2, h, kScan));
  EXPECT_FALSE(t.Renew(2, h, kScan + 900)) << "same holder: a heartbeat";
  EXPECT_EQ(t.running(), 1u);
  // Due at kScan + 1000 without the heartbeat; with it, at kScan + 1900.
  EXPECT_TRUE(ExpireAt(t, kScan + 1899).empty());
  const auto expired = ExpireAt(t, 3 * kScan + 1900);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].slot, 2u);
  EXPECT_EQ(expired[0].holder, h);
  EXPECT_EQ(t.running(), 0u);
}

TEST(LeaseTableTest, AnotherHolderReplacesTheLease) {
  LeaseTable t(8, kLeaseNs);
  EXPECT_TRUE(t.Renew(1, {1, 4, 1}, 0));
  EXPECT_TRUE(t.Renew(1, {1, 4, 2}, 0)) << "next attempt of the same slot starts anew";
  EXPECT_TRUE(t.Renew(1, {2, 5, 1}, 0)) << "another generation";
  EXPECT_EQ(t.running(), 1u);
  const auto expired = ExpireAt(t, kScan + kLeaseNs);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].holder, (LeaseTable::Holder{2, 5, 1}));
}

TEST(LeaseTableTest, EndedLeasesNeverExpire) {
  LeaseTable t(8, kLeaseNs);
  for (uint32_t s = 0; s < 8; ++s) t.Renew(s, {1, s, 1}, 0);
  t.End(3);
  t.End(0);
  t.End(7);
  t.End(7);  // twice: a no-op
  EXPECT_EQ(t.running(), 5u);
  std::vector<uint32_t> slots;
  for (const Expired& e : ExpireAt(t, kScan + kLeaseNs)) slots.push_back(e.slot);
  std::sort(slots.begin(), slots.end());
  EXPECT_EQ(slots, (std::vector<uint32_t>{1, 2, 4, 5, 6}));
  EXPECT_EQ(t.running(), 0u);
}

TEST(LeaseTableTest, ScansAtMostEveryScanInterval) {
  LeaseTable t(4, kLeaseNs);
  t.Renew(0, {1, 1, 1}, kScan);
  EXPECT_TRUE(ExpireAt(t, kScan).empty()) << "not due yet; this scan counts";
  EXPECT_TRUE(ExpireAt(t, kScan + kLeaseNs).empty()) << "due, but the last scan was too recent";
  EXPECT_EQ(ExpireAt(t, 2 * kScan).size(), 1u);
}

}  // namespace
}  // namespace taskring::daemon
