#include "daemon/dead_letter_keeper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "small_segment.h"

namespace taskring::daemon {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

class DeadLetterKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(seg_.status().ok()) << seg_.status().ToString();
    ASSERT_OK(deadletter::DeadLetterStore::Open(tmp_.path(), 0600, /*create=*/true, &store_));
  }
  static deadletter::DeadLetter Letter(uint64_t id) {
    deadletter::DeadLetter l;
    l.job_id = id;
    l.attempts = 3;
    l.max_attempts = 3;
    l.payload = "payload " + std::to_string(id);
    return l;
  }
  std::vector<uint64_t> Stored() {
    std::vector<uint64_t> ids;
    EXPECT_OK(store_->List(&ids));
    return ids;
  }

  test::TempDir tmp_;
  SmallSegment seg_;
  std::unique_ptr<deadletter::DeadLetterStore> store_;
};

TEST_F(DeadLetterKeeperTest, KeepsLettersAndBoundsTheStoreOldestFirstOnceSynced) {
  DeadLetterKeeper keeper(store_.get(), 2, *seg_);
  for (uint64_t id : {5, 9, 7}) ASSERT_TRUE(keeper.Keep(Letter(id)));
  EXPECT_EQ(keeper.count(), 3u);
  EXPECT_EQ(Stored().size(), 3u) << "nothing removed before the letters are durable";
  ASSERT_OK(keeper.Sync(kSecond));
  EXPECT_EQ(Stored(), (std::vector<uint64_t>{7, 9}));
  EXPECT_EQ(keeper.count(), 2u);
  EXPECT_EQ(seg_->Read(segment::Counter::kDeadEvicted), 1u);
  deadletter::DeadLetter back;
  ASSERT_OK(store_->Read(9, &back));
  EXPECT_EQ(back, Letter(9));
}

TEST_F(DeadLetterKeeperTest, RecountsTheStoreEveryFewSecondsOrWhenForced) {
  DeadLetterKeeper keeper(store_.get(), 100, *seg_);
  keeper.Refresh(10 * kSecond, /*force=*/true);
  EXPECT_EQ(keeper.count(), 0u);
  ASSERT_OK(store_->Write(Letter(1)));  // as `taskring dead` might change it behind our back
  keeper.Refresh(11 * kSecond, /*force=*/false);
  EXPECT_EQ(keeper.count(), 0u) << "refreshed a second ago";
  keeper.Refresh(15 * kSecond, /*force=*/false);
  EXPECT_EQ(keeper.count(), 1u);
  ASSERT_OK(store_->Remove(1));
  keeper.Refresh(15 * kSecond, /*force=*/true);
  EXPECT_EQ(keeper.count(), 0u);
}

TEST_F(DeadLetterKeeperTest, ALetterThatCannotBeWrittenIsRefused) {
  DeadLetterKeeper keeper(store_.get(), 100, *seg_);
  std::filesystem::remove_all(store_->dir());
  EXPECT_FALSE(keeper.Keep(Letter(3)));
  EXPECT_EQ(keeper.count(), 0u);
  EXPECT_OK(keeper.Sync(0)) << "nothing written, nothing to sync";
}

}  // namespace
}  // namespace taskring::daemon
