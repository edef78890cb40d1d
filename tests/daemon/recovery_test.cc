#include "daemon/recovery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "test_util.h"
#include "wal/wal_writer.h"

namespace taskring::daemon {
namespace {

class RecoveryTest : public ::testing::Test {
 protected:
  void Log(std::vector<wal::WalRecord> records) {
    std::unique_ptr<wal::WalWriter> w;
    ASSERT_OK(wal::WalWriter::Open(tmp_.path(), {}, next_lsn_, &w));
    for (auto& r : records) next_lsn_ = w->Add(r) + 1;
    ASSERT_OK(w->Flush());
    ASSERT_OK(w->Sync());
  }
  static wal::WalRecord Enqueue(uint64_t id, std::string payload, uint32_t attempt = 0) {
    wal::WalRecord r;
    r.type = wal::RecordType::kEnqueue;
    r.job_id = id;
    r.attempt = attempt;
    r.max_attempts = 3;
    r.enqueued_unix_ns = 100 + id;
    r.payload = std::move(payload);
    return r;
  }
  static wal::WalRecord Outcome(wal::RecordType type, uint64_t id, uint32_t attempt,
                                uint64_t not_before = 0) {
    wal::WalRecord r;
    r.type = type;
    r.job_id = id;
    r.attempt = attempt;
    r.not_before_unix_ns = not_before;
    return r;
  }

  test::TempDir tmp_;
  uint64_t next_lsn_ = 1;
};

TEST_F(RecoveryTest, KeepsExactlyTheUnfinishedJobsInIdOrder) {
  using T = wal::RecordType;
  Log({Enqueue(3, "c"), Enqueue(1, "a"), Enqueue(2, "b"), Enqueue(4, "d"), Outcome(T::kStart, 1, 1),
       Outcome(T::kComplete, 1, 1), Outcome(T::kStart, 2, 1), Outcome(T::kRetry, 3, 1, 5000),
       Outcome(T::kStart, 4, 1), Outcome(T::kDead, 4, 1)});
  // A second daemon run: job 5 enqueued, job 3 started again.
  Log({Enqueue(5, "e"), Outcome(T::kStart, 3, 2)});
  RecoveryResult rec;
  ASSERT_OK(RecoverFromWal(tmp_.path(), /*salvage=*/false, &rec));
  ASSERT_EQ(rec.live.size(), 3u);
  EXPECT_EQ(rec.live[0].id, 2u);
  EXPECT_TRUE(rec.live[0].was_running);
  EXPECT_EQ(rec.live[0].attempts_made, 1u);
  EXPECT_EQ(rec.live[0].payload, "b");
  EXPECT_EQ(rec.live[1].id, 3u);
  EXPECT_TRUE(rec.live[1].was_running) << "started again after its retry";
  EXPECT_EQ(rec.live[1].attempts_made, 2u);
  EXPECT_EQ(rec.live[1].not_before_unix_ns, 5000u);
  EXPECT_EQ(rec.live[2].id, 5u);
  EXPECT_FALSE(rec.live[2].was_running);
  EXPECT_EQ(rec.live[2].wal_segment, 2u) << "logged in the second segment";
  EXPECT_EQ(rec.live[0].wal_segment, 1u);
  EXPECT_EQ(rec.max_job_id, 5u);
  EXPECT_EQ(rec.terminal, 2u);
  EXPECT_EQ(rec.was_running, 2u);
  EXPECT_EQ(rec.next_lsn, next_lsn_);
}

TEST_F(RecoveryTest, AReloggedJobKeepsItsAttemptsAndMovesToTheNewerSegment) {
  using T = wal::RecordType;
  Log({Enqueue(1, "a"), Outcome(T::kRetry, 1, 2)});
  Log({Enqueue(1, "a", /*attempt=*/2)});
  RecoveryResult rec;
  ASSERT_OK(RecoverFromWal(tmp_.path(), false, &rec));
  ASSERT_EQ(rec.live.size(), 1u);
  EXPECT_EQ(rec.live[0].attempts_made, 2u);
  EXPECT_EQ(rec.live[0].wal_segment, 2u);
}

TEST_F(RecoveryTest, ReconcilingRemovesLettersOfLiveJobsAndTempFiles) {
  std::unique_ptr<deadletter::DeadLetterStore> store;
  ASSERT_OK(deadletter::DeadLetterStore::Open(tmp_.path(), 0600, /*create=*/true, &store));
  for (uint64_t id : {1, 2, 3}) {
    deadletter::DeadLetter l;
    l.job_id = id;
    ASSERT_OK(store->Write(l));
  }
  const std::string temp = store->dir() + "/.tmp-00000000000000000009.dead";  // a torn Write
  std::ofstream(temp) << "half";
  std::vector<RecoveredJob> live(1);
  live[0].id = 2;  // its DEAD record never reached the WAL: it runs again
  EXPECT_EQ(ReconcileDeadLetters(*store, live), 1u);
  std::vector<uint64_t> ids;
  ASSERT_OK(store->List(&ids));
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 3}));
  EXPECT_NE(::access(temp.c_str(), F_OK), 0) << "temp file removed";
}

}  // namespace
}  // namespace taskring::daemon
