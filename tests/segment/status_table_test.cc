#include "segment/status_table.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "taskring/job.h"

namespace taskring::segment {
namespace {

TEST(StatusTableTest, EveryStoredCodeReadsAsThePublicStateOfTheSameName) {
  const struct {
    JobStateCode code;
    JobState state;
  } cases[] = {
      {JobStateCode::kUnknown, JobState::kUnknown},
      {JobStateCode::kPending, JobState::kPending},
      {JobStateCode::kQueued, JobState::kQueued},
      {JobStateCode::kRunning, JobState::kRunning},
      {JobStateCode::kDelayed, JobState::kDelayed},
      {JobStateCode::kCompleted, JobState::kCompleted},
      {JobStateCode::kFailedRetrying, JobState::kRetrying},
      {JobStateCode::kDead, JobState::kDead},
  };
  for (const auto& c : cases) {
    JobState state = JobState::kExpired;
    uint32_t attempt = 0;
    ASSERT_TRUE(UnpackStatus(PackStatus(42, c.code, 3), 42, &state, &attempt));
    EXPECT_EQ(state, c.state) << JobStateName(c.state);
    EXPECT_EQ(attempt, 3u);
  }
}

TEST(StatusTableTest, CodeNoBuildWritesReadsAsUnknown) {
  for (uint64_t code : {8u, 10u, 0x80u, 0xffu}) {  // 8 is JobState::kExpired: never stored
    JobState state = JobState::kQueued;
    uint32_t attempt = 0;
    ASSERT_TRUE(UnpackStatus((uint64_t{42} << 16) | (code << 8) | 1, 42, &state, &attempt));
    EXPECT_EQ(state, JobState::kUnknown) << "code " << code;
    EXPECT_EQ(attempt, 1u);
  }
}

TEST(StatusTableTest, EntryOfAnotherJobIsNotRead) {
  JobState state = JobState::kQueued;
  uint32_t attempt = 7;
  EXPECT_FALSE(UnpackStatus(PackStatus(42, JobStateCode::kDead, 1), 43, &state, &attempt));
  EXPECT_EQ(state, JobState::kQueued) << "left as it was";
  EXPECT_EQ(attempt, 7u);
}

TEST(StatusTableTest, IdsMatchOnTheirLow48BitsAndAttemptsCapAt255) {
  const uint64_t id = (uint64_t{1} << 48) + 5;  // stored as 5
  JobState state = JobState::kUnknown;
  uint32_t attempt = 0;
  ASSERT_TRUE(UnpackStatus(PackStatus(id, JobStateCode::kRunning, 1000), id, &state, &attempt));
  EXPECT_EQ(state, JobState::kRunning);
  EXPECT_EQ(attempt, 255u);
}

}  // namespace
}  // namespace taskring::segment
