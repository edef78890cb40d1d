#include "segment/queue_names.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace taskring::segment {
namespace {

TEST(QueueNamesTest, QueueNamesAreRestrictedToSafeFileNames) {
  EXPECT_OK(ValidateQueueName("emails.v2-high_prio"));
  EXPECT_OK(ValidateQueueName(std::string(kMaxQueueName - 1, 'a')));
  EXPECT_TRUE(ValidateQueueName("").IsInvalidArgument());
  EXPECT_TRUE(ValidateQueueName("../etc").IsInvalidArgument());
  EXPECT_TRUE(ValidateQueueName("a/b").IsInvalidArgument());
  EXPECT_TRUE(ValidateQueueName(".hidden").IsInvalidArgument());
  EXPECT_TRUE(ValidateQueueName(std::string(kMaxQueueName, 'a')).IsInvalidArgument());
}

TEST(QueueNamesTest, ShmNamesHaveNoSlashAndTheLockIsAPathInDevShm) {
  EXPECT_EQ(ShmName("q1"), "taskring.q1");
  EXPECT_EQ(StagingShmName("q1"), "taskring.q1~new");
  EXPECT_EQ(LockPath("q1"), "/dev/shm/taskring.q1~lock");
}

}  // namespace
}  // namespace taskring::segment
