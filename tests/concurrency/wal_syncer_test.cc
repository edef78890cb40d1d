// The engine's sync thread: a sync runs off the caller's thread, its result is collected once,
// the caller learns of its end through on_done, and the file keeps taking writes meanwhile.
#include "daemon/wal_syncer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "test_util.h"

namespace taskring::daemon {
namespace {

// Syncs block until released, so a test can act while one is in flight.
class GatedFile final : public io::WritableFile {
 public:
  Status Write(uint64_t, std::string_view) override {
    writes.fetch_add(1);
    return Status::OK();
  }
  Status Truncate(uint64_t) override { return Status::OK(); }
  Status DataSync() override {
    while (!open_gate.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
    syncs.fetch_add(1);
    return fail.load() ? Status::IOError("injected EIO") : Status::OK();
  }
  Status Sync() override { return DataSync(); }
  Status Close() override { return Status::OK(); }
  const std::string& path() const override { return path_; }

  std::atomic<bool> open_gate{false};
  std::atomic<bool> fail{false};
  std::atomic<int> writes{0};
  std::atomic<int> syncs{0};

 private:
  std::string path_ = "gated";
};

TEST(WalSyncerTest, ASyncRunsOffThreadAndIsCollectedOnce) {
  GatedFile file;
  std::atomic<int> done_calls{0};
  WalSyncer syncer([&] { done_calls.fetch_add(1); });
  EXPECT_FALSE(syncer.busy());
  syncer.Start(&file);
  EXPECT_TRUE(syncer.busy());
  Status s;
  uint64_t ns = 0;
  EXPECT_FALSE(syncer.TryCollect(&s, &ns)) << "still in flight";
  ASSERT_OK(file.Write(0, "next group"));  // the caller keeps writing meanwhile
  file.open_gate = true;
  // on_done runs just after finished() turns true, so wait for both.
  for (int i = 0; i < 5000 && (!syncer.finished() || done_calls.load() == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_TRUE(syncer.finished());
  EXPECT_EQ(done_calls.load(), 1);
  ASSERT_TRUE(syncer.TryCollect(&s, &ns));
  EXPECT_OK(s);
  EXPECT_FALSE(syncer.busy());
  EXPECT_FALSE(syncer.TryCollect(&s, &ns)) << "collected once";
  EXPECT_EQ(file.syncs.load(), 1);
}

TEST(WalSyncerTest, CollectWaitsForTheSyncAndReportsItsError) {
  GatedFile file;
  file.fail = true;
  WalSyncer syncer([] {});
  syncer.Start(&file);
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    file.open_gate = true;
  });
  Status s;
  uint64_t ns = 0;
  syncer.Collect(&s, &ns);
  opener.join();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_FALSE(syncer.busy());
  // The thread takes the next sync.
  file.fail = false;
  syncer.Start(&file);
  syncer.Collect(&s, &ns);
  EXPECT_OK(s);
  EXPECT_EQ(file.syncs.load(), 2);
}

TEST(WalSyncerTest, DestroyingItWithASyncInFlightLetsTheSyncFinish) {
  GatedFile file;
  std::thread opener;
  {
    WalSyncer syncer([] {});
    syncer.Start(&file);
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      file.open_gate = true;
    });
  }  // returns only once the sync is done
  EXPECT_EQ(file.syncs.load(), 1);
  opener.join();
}

}  // namespace
}  // namespace taskring::daemon
