// OutcomeIndex under a race: one writer putting (and displacing) entries while readers look ids
// up. A reader may miss an id or see an older location of it, but never another id's location.
// Then the whole read path: OutcomeReader threads against an OutcomeStore that appends, rotates
// and deletes files on the real file system. Labelled concurrency, so it also runs under TSan.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/outcome_store.h"
#include "outcome/outcome_index.h"
#include "outcome/outcome_reader.h"
#include "test_util.h"

namespace taskring::outcome {
namespace {

// Each location names its id (offset) and the round it was written in (file), so a reader can
// tell whose it is.
uint64_t LocOf(uint64_t id, uint32_t round) { return PackOutcomeLoc(round, id); }

TEST(OutcomeIndexRaceTest, ReadersNeverSeeAnotherIdsLocation) {
  constexpr uint32_t kEntries = 1024;
  constexpr uint64_t kIds = 3000;  // more than fit: entries are displaced all the time
  constexpr uint32_t kRounds = 40;
  constexpr int kReaders = 3;
  std::vector<OutcomeIndexEntry> entries(kEntries);
  OutcomeIndex index(entries.data(), kEntries);
  index.Clear();

  std::atomic<bool> done{false};
  std::atomic<uint64_t> foreign{0}, from_the_future{0}, hits{0};
  std::atomic<uint32_t> round_started{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(r + 1);
      while (!done.load(std::memory_order_relaxed)) {
        const uint64_t id = 1 + rng() % kIds;
        const uint64_t loc = index.Find(id);
        if (loc == 0) continue;
        hits.fetch_add(1, std::memory_order_relaxed);
        if (LocOffset(loc) != id) foreign.fetch_add(1, std::memory_order_relaxed);
        // Read after the Find: any round the location can come from has started by now.
        if (LocFile(loc) > round_started.load(std::memory_order_acquire)) {
          from_the_future.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }

  // The writer: every round re-puts every id (rounds are files: the last two are live, so older
  // entries are dead and taken first, the rest displaced by age).
  std::vector<uint32_t> last_round(kIds + 1, 0);
  std::vector<bool> present(kIds + 1, false);
  std::mt19937_64 rng(99);
  uint64_t wrong_displaced = 0;
  for (uint32_t round = 1; round <= kRounds; ++round) {
    round_started.store(round, std::memory_order_release);
    const uint32_t oldest_live = round > 2 ? round - 1 : 1;
    for (uint64_t n = 0; n < kIds; ++n) {
      const uint64_t id = 1 + rng() % kIds;
      uint64_t displaced_loc = 0;
      const uint64_t displaced = index.Put(id, LocOf(id, round), oldest_live, &displaced_loc);
      last_round[id] = round;
      present[id] = true;
      if (displaced != 0) {
        // The writer's own view is exact.
        wrong_displaced += LocOffset(displaced_loc) != displaced;
        present[displaced] = false;
      }
    }
  }
  done.store(true);
  for (auto& t : readers) t.join();

  EXPECT_EQ(wrong_displaced, 0u);
  EXPECT_EQ(foreign.load(), 0u) << "of " << hits.load() << " hits";
  EXPECT_EQ(from_the_future.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  // Quiescent: every id is where the writer last put it, or gone if it was displaced since (or
  // its entry was taken as a dead one).
  for (uint64_t id = 1; id <= kIds; ++id) {
    const uint64_t loc = index.Find(id);
    if (loc != 0) {
      EXPECT_EQ(loc, LocOf(id, last_round[id])) << id;
    }
    if (present[id] && last_round[id] >= kRounds - 1) {
      EXPECT_NE(loc, 0u) << id << " was neither displaced nor in a deleted file";
    }
  }
}

// Job id -> its record: the result names the job and the round, so a reader can check that
// what it got is a record the store really wrote for that job.
OutcomeRecord RoundRecord(uint64_t id, uint32_t round) {
  OutcomeRecord r;
  r.job_id = id;
  r.state = round % 2 == 0 ? JobState::kCompleted : JobState::kRetrying;
  r.attempt = round;
  r.max_attempts = 1000;
  r.finished_unix_ns = 1'764'000'000'000'000'000ULL;
  r.result = std::to_string(id) + "/" + std::to_string(round) + std::string(id % 700, '.');
  return r;
}

TEST(OutcomeReaderRaceTest, ReadersRacingTheStoreGetTheRecordOrNotFound) {
  constexpr uint32_t kEntries = 2048;
  constexpr uint64_t kIds = 1500;
  constexpr uint32_t kRounds = 12;
  constexpr int kReaders = 3;
  test::TempDir tmp;
  std::vector<OutcomeIndexEntry> entries(kEntries);
  const OutcomeIndex index(entries.data(), kEntries);
  daemon::OutcomeStoreOptions options;
  options.max_bytes = 256 << 10;  // files are deleted all the time
  options.file_bytes = 16 << 10;
  std::unique_ptr<daemon::OutcomeStore> store;
  ASSERT_OK(daemon::OutcomeStore::Open(io::Env::Default(), tmp.path(), options, index,
                                       1'764'000'000'000'000'000ULL, &store));
  const OutcomeReader reader(tmp.path() + "/outcomes", index);

  std::atomic<bool> done{false};
  std::atomic<uint64_t> found{0}, not_found{0}, wrong{0}, errors{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(r + 7);
      while (!done.load(std::memory_order_relaxed)) {
        const uint64_t id = 1 + rng() % kIds;
        OutcomeRecord got;
        const Status s = reader.Find(id, rng() % 2 == 0, &got);
        if (s.IsNotFound()) {
          not_found.fetch_add(1, std::memory_order_relaxed);
        } else if (!s.ok()) {
          errors.fetch_add(1, std::memory_order_relaxed);
          ADD_FAILURE() << s.ToString();
        } else {
          found.fetch_add(1, std::memory_order_relaxed);
          OutcomeRecord expected = RoundRecord(id, got.attempt);
          if (got.result.empty()) expected.result.clear();  // a head-only read
          if (got != expected) wrong.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  // The writer; a failure stops it, never the test while the readers run.
  const Status written = [&]() -> Status {
    for (uint32_t round = 1; round <= kRounds; ++round) {
      for (uint64_t id = 1; id <= kIds; ++id) {
        if (!store->Add(RoundRecord(id, round))) return Status::InvalidArgument("Add refused");
        if (id % 50 == 0) {
          Status s = store->Flush();
          if (!s.ok()) return s;
          store->Expire(1'764'000'000'000'000'000ULL);
        }
      }
    }
    return store->Sync();
  }();
  done.store(true);
  for (auto& t : readers) t.join();
  ASSERT_OK(written);
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_GT(found.load(), 0u);
  EXPECT_GT(store->evicted(), 0u) << "files were deleted under the readers";
  // Quiescent: the latest round of every job still in the store.
  for (uint64_t id = kIds - 100; id <= kIds; ++id) {
    OutcomeRecord got;
    ASSERT_OK(reader.Find(id, true, &got)) << id;
    EXPECT_EQ(got, RoundRecord(id, kRounds));
  }
}

}  // namespace
}  // namespace taskring::outcome
