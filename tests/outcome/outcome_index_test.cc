// OutcomeIndex: the shared-memory job id -> outcome location table, on one thread (the race
// between its writer and readers is in tests/concurrency/outcome_index_race_test.cc).
#include "outcome/outcome_index.h"

#include <gtest/gtest.h>

#include <vector>

namespace taskring::outcome {
namespace {

class OutcomeIndexTest : public ::testing::Test {
 protected:
  explicit OutcomeIndexTest(uint32_t n = 64) : entries_(n), index_(entries_.data(), n) {}

  std::vector<OutcomeIndexEntry> entries_;
  OutcomeIndex index_;
};

TEST(OutcomeLocTest, PacksFileAndOffset) {
  const uint64_t loc = PackOutcomeLoc(7, 123456);
  EXPECT_EQ(LocFile(loc), 7u);
  EXPECT_EQ(LocOffset(loc), 123456u);
  EXPECT_EQ(LocFile(PackOutcomeLoc(UINT32_MAX, kMaxOutcomeOffset)), UINT32_MAX);
  EXPECT_EQ(LocOffset(PackOutcomeLoc(UINT32_MAX, kMaxOutcomeOffset)), kMaxOutcomeOffset);
  EXPECT_NE(PackOutcomeLoc(0, 8), 0u) << "a record's offset is past the file header";
  // Later files, then later offsets, order after earlier ones: "oldest" is the smallest.
  EXPECT_LT(PackOutcomeLoc(1, kMaxOutcomeOffset), PackOutcomeLoc(2, 8));
}

TEST(OutcomeIndexViewTest, InvalidViewsFindNothingAndStoreNothing) {
  std::vector<OutcomeIndexEntry> entries(48);
  for (OutcomeIndex index : {OutcomeIndex(), OutcomeIndex(entries.data(), 48),
                             OutcomeIndex(entries.data(), 0), OutcomeIndex(nullptr, 64)}) {
    EXPECT_FALSE(index.valid());
    EXPECT_EQ(index.Put(5, PackOutcomeLoc(1, 8), 1), 0u);
    EXPECT_EQ(index.Find(5), 0u);
    index.Clear();
  }
  for (const OutcomeIndexEntry& e : entries) EXPECT_EQ(e.id.load(), 0u);
}

TEST_F(OutcomeIndexTest, FindsWhatWasPut) {
  EXPECT_TRUE(index_.valid());
  EXPECT_EQ(index_.Find(5), 0u);
  EXPECT_EQ(index_.Put(5, PackOutcomeLoc(1, 8), 1), 0u);
  EXPECT_EQ(index_.Put(70, PackOutcomeLoc(1, 100), 1), 0u);
  EXPECT_EQ(index_.Find(5), PackOutcomeLoc(1, 8));
  EXPECT_EQ(index_.Find(70), PackOutcomeLoc(1, 100));
  EXPECT_EQ(index_.Find(6), 0u);
  EXPECT_EQ(index_.Find(0), 0u);
  EXPECT_EQ(index_.Put(0, PackOutcomeLoc(1, 8), 1), 0u) << "id 0 is never stored";
  EXPECT_EQ(index_.Put(9, 0, 1), 0u) << "nor location 0";
  EXPECT_EQ(index_.Find(9), 0u);
}

TEST_F(OutcomeIndexTest, ALaterRecordOfAnIdReplacesItsLocation) {
  ASSERT_EQ(index_.Put(5, PackOutcomeLoc(1, 8), 1), 0u);
  ASSERT_EQ(index_.Put(5, PackOutcomeLoc(2, 8), 1), 0u);
  EXPECT_EQ(index_.Find(5), PackOutcomeLoc(2, 8));
  int entries_of_5 = 0;
  for (const OutcomeIndexEntry& e : entries_) entries_of_5 += e.id.load() == 5;
  EXPECT_EQ(entries_of_5, 1);
}

// Ids 1..64 fill a table of 64 entries, each at its first home (id & 63). A newcomer then finds
// both its windows full and displaces the oldest location of the two.
TEST_F(OutcomeIndexTest, TwoFullWindowsDisplaceTheOldestLocationOfBoth) {
  const uint64_t newcomer = 64 * 100 + 10;  // first window: entries 10..25
  auto id_at = [](uint32_t entry) -> uint64_t { return entry == 0 ? 64 : entry; };
  // Written out of order: the oldest location is in the second window.
  const uint64_t oldest = id_at(index_.EntryOf(newcomer, 1, 3));
  for (uint64_t id = 1; id <= 64; ++id) {
    ASSERT_EQ(index_.Put(id, PackOutcomeLoc(5, id == oldest ? 8 : 1000 + id), 5), 0u) << id;
  }
  uint64_t displaced_loc = 0;
  EXPECT_EQ(index_.Put(newcomer, PackOutcomeLoc(6, 8), 5, &displaced_loc), oldest);
  EXPECT_EQ(displaced_loc, PackOutcomeLoc(5, 8));
  EXPECT_EQ(index_.Find(oldest), 0u);
  EXPECT_EQ(index_.Find(newcomer), PackOutcomeLoc(6, 8));
  for (uint64_t id = 1; id <= 64; ++id) {
    if (id != oldest) {
      EXPECT_NE(index_.Find(id), 0u) << id;
    }
  }
}

TEST_F(OutcomeIndexTest, EntriesOfDeletedFilesAreTakenFirstAndNotCountedAsDisplaced) {
  const uint64_t newcomer = 64 * 50 + 20;  // first window: entries 20..35
  // A full table. Ids 26 and 30 in file 2, the rest in file 4; the first window's are the
  // oldest live ones.
  for (uint64_t id = 1; id <= 64; ++id) {
    const uint32_t file = (id == 26 || id == 30) ? 2 : 4;
    const uint64_t offset = id >= 20 && id <= 35 ? 8 + id : 1000 + id;
    ASSERT_EQ(index_.Put(id, PackOutcomeLoc(file, offset), 2), 0u);
  }
  // File 2 was deleted: the oldest live file is 3.
  uint64_t displaced_loc = 1;
  EXPECT_EQ(index_.Put(newcomer, PackOutcomeLoc(5, 8), 3, &displaced_loc), 0u);
  EXPECT_EQ(displaced_loc, 0u);
  EXPECT_EQ(index_.Find(26), 0u) << "the first dead entry was taken";
  EXPECT_EQ(index_.Put(newcomer + 64, PackOutcomeLoc(5, 100), 3), 0u);
  EXPECT_EQ(index_.Find(30), 0u);
  // No dead entry left: the oldest live one goes, and is reported.
  EXPECT_EQ(index_.Put(newcomer + 128, PackOutcomeLoc(5, 200), 3), 20u);
  EXPECT_NE(index_.Find(newcomer), 0u);
  EXPECT_NE(index_.Find(newcomer + 64), 0u);
}

// Each daemon start draws ids from the clock (daemon/engine.cc): the run of consecutive ids of
// a later start can equal an earlier run's modulo the table size. With one window from
// id & (n - 1), every id of the later run found its window full of the earlier run's entries and
// displaced one, though nearly the whole table was empty (the crash battery's run 13 lost 4015
// results to this).
TEST(OutcomeIndexAliasTest, RunsOfIdsThatAliasModuloTheSizeDoNotDisplaceEachOther) {
  constexpr uint32_t kEntries = 4096;
  constexpr uint64_t kRun = 150;
  constexpr uint64_t kFirst = 1'796'035'707'355'644ULL;  // as a start in 2026 draws them
  std::vector<OutcomeIndexEntry> entries(kEntries);
  OutcomeIndex index(entries.data(), kEntries);
  uint64_t displaced = 0;
  for (uint64_t run = 0; run < 3; ++run) {  // 450 ids in 4096 entries
    const uint64_t start = kFirst + run * kEntries * 1000;
    for (uint64_t i = 0; i < kRun; ++i) {
      displaced += index.Put(start + i, PackOutcomeLoc(1 + run, 8 + i), 1) != 0;
    }
  }
  EXPECT_EQ(displaced, 0u);
  for (uint64_t run = 0; run < 3; ++run) {
    for (uint64_t i = 0; i < kRun; ++i) {
      EXPECT_EQ(index.Find(kFirst + run * kEntries * 1000 + i), PackOutcomeLoc(1 + run, 8 + i))
          << run << " " << i;
    }
  }
}

TEST_F(OutcomeIndexTest, PutReportsTheIdsPreviousLocation) {
  uint64_t previous = 1;
  ASSERT_EQ(index_.Put(5, PackOutcomeLoc(1, 8), 1, nullptr, &previous), 0u);
  EXPECT_EQ(previous, 0u) << "a new id";
  ASSERT_EQ(index_.Put(5, PackOutcomeLoc(2, 8), 1, nullptr, &previous), 0u);
  EXPECT_EQ(previous, PackOutcomeLoc(1, 8));
}

// Consecutive ids share their windows' cache lines: both windows of id + 1 are those of id
// moved by one entry (within a block of 64 ids), so a full table costs a Put about one miss.
TEST_F(OutcomeIndexTest, ConsecutiveIdsHaveWindowsOneEntryApart) {
  for (int w = 0; w < 2; ++w) {
    for (uint64_t id = 6400; id < 6400 + 63; ++id) {
      EXPECT_EQ(index_.EntryOf(id + 1, w, 0), (index_.EntryOf(id, w, 0) + 1) % index_.size())
          << "window " << w << " id " << id;
    }
  }
}

// One daemon's run of consecutive ids fills the table completely before anything is displaced.
TEST(OutcomeIndexAliasTest, ConsecutiveIdsFillEveryEntry) {
  constexpr uint32_t kEntries = 1024;
  std::vector<OutcomeIndexEntry> entries(kEntries);
  OutcomeIndex index(entries.data(), kEntries);
  for (uint64_t i = 0; i < kEntries; ++i) {
    ASSERT_EQ(index.Put(5000 + i, PackOutcomeLoc(1, 8 + i), 1), 0u) << i;
  }
  for (const OutcomeIndexEntry& e : entries) EXPECT_NE(e.id.load(), 0u);
  EXPECT_EQ(index.Put(5000 + kEntries, PackOutcomeLoc(2, 8), 1), 5000u) << "the oldest goes";
}

TEST_F(OutcomeIndexTest, TheWindowWrapsAroundTheEnd) {
  // Home entry 62: the window is entries 62, 63, 0, 1, ...
  for (uint64_t i = 0; i < OutcomeIndex::kProbe; ++i) {
    ASSERT_EQ(index_.Put(62 + 64 * i, PackOutcomeLoc(1, 8 + i), 1), 0u);
  }
  for (uint64_t i = 0; i < OutcomeIndex::kProbe; ++i) {
    EXPECT_EQ(index_.Find(62 + 64 * i), PackOutcomeLoc(1, 8 + i)) << i;
  }
  EXPECT_EQ(entries_[0].id.load(), 62u + 64 * 2);
  EXPECT_EQ(entries_[13].id.load(), 62u + 64 * 15);
  EXPECT_EQ(entries_[14].id.load(), 0u);
}

TEST_F(OutcomeIndexTest, ClearEmptiesEveryEntry) {
  for (uint64_t id = 1; id <= 40; ++id) ASSERT_EQ(index_.Put(id, PackOutcomeLoc(1, id), 1), 0u);
  index_.Clear();
  for (uint64_t id = 1; id <= 40; ++id) EXPECT_EQ(index_.Find(id), 0u);
  for (const OutcomeIndexEntry& e : entries_) {
    EXPECT_EQ(e.id.load(), 0u);
    EXPECT_EQ(e.loc.load(), 0u);
  }
}

TEST(OutcomeIndexSmallTest, ATableSmallerThanTheWindowProbesEachEntryOnce) {
  std::vector<OutcomeIndexEntry> entries(4);
  OutcomeIndex index(entries.data(), 4);
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_EQ(index.Put(id, PackOutcomeLoc(1, 8 * id), 1), 0u);
  EXPECT_EQ(index.Put(5, PackOutcomeLoc(2, 8), 1), 1u) << "the oldest of the four";
  EXPECT_EQ(index.Find(5), PackOutcomeLoc(2, 8));
  EXPECT_EQ(index.Find(1), 0u);
  EXPECT_EQ(index.Find(4), PackOutcomeLoc(1, 32));
}

// Entries are shared memory: garbage in them never makes Put fail to store or Find misbehave.
TEST_F(OutcomeIndexTest, ScribbledEntriesAreSurvived) {
  for (OutcomeIndexEntry& e : entries_) {
    e.id.store(0xdeadbeefdeadbeefULL);
    e.loc.store(UINT64_MAX);
  }
  EXPECT_EQ(index_.Find(7), 0u);
  EXPECT_EQ(index_.Put(7, PackOutcomeLoc(1, 8), 1), 0xdeadbeefdeadbeefULL);
  EXPECT_EQ(index_.Find(7), PackOutcomeLoc(1, 8));
}

}  // namespace
}  // namespace taskring::outcome
