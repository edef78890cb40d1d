#include "daemon/delay_queue.h"

#include <gtest/gtest.h>

namespace taskring::daemon {
namespace {

TEST(DelayQueueTest, ReleasesEntriesInDueOrderOnlyOnceDue) {
  DelayQueue q;
  q.Push({300, 3, 1});
  q.Push({100, 1, 1});
  q.Push({200, 2, 7});
  DelayQueue::Entry e{};
  EXPECT_FALSE(q.PopDue(99, &e));
  ASSERT_TRUE(q.PopDue(250, &e));
  EXPECT_EQ(e.slot, 1u);
  ASSERT_TRUE(q.PopDue(250, &e));
  EXPECT_EQ(e.slot, 2u);
  EXPECT_EQ(e.gen, 7u);
  EXPECT_FALSE(q.PopDue(250, &e)) << "300 is not due at 250";
  EXPECT_EQ(q.size(), 1u);
  ASSERT_TRUE(q.PopDue(300, &e)) << "due exactly at its time";
  EXPECT_EQ(q.size(), 0u);
}

}  // namespace
}  // namespace taskring::daemon
