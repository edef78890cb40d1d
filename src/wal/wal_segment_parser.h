// SegmentParser: splits the bytes of one segment into complete logical records and damaged
// regions. Pure function of its input (no I/O), so recovery policy lives in wal_reader.cc and
// the parser can be fed any garbage in tests.
#ifndef TASKRING_WAL_WAL_SEGMENT_PARSER_H_
#define TASKRING_WAL_WAL_SEGMENT_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace taskring::wal {

class SegmentParser {
 public:
  struct Item {
    enum class Kind { kRecord, kDamage };
    Kind kind = Kind::kRecord;
    // Record: offset of its first fragment header. Damage: where the bad region starts (the
    // first fragment of a record that could not be completed).
    uint64_t offset = 0;
    // Record: one past its last fragment. Damage: unused.
    uint64_t end = 0;
    // Record: the logical record bytes; points into the segment or into the parser, valid until
    // the next call to Next().
    std::string_view data;
    // Damage: what is wrong, for people.
    std::string reason;
    // Damage: it is, or was cut short by, zero-filled space (never written, or preallocated).
    bool zeroed = false;
  };

  // segment must outlive the parser.
  explicit SegmentParser(std::string_view segment) : buf_(segment) {}

  // Fills *item with the next record or damage and returns true; false at the end. Every byte
  // of a fragment handed out as part of a record passed its checksum. After damage, parsing
  // resumes at the next block boundary.
  bool Next(Item* item);

 private:
  struct Fragment {
    enum class Kind { kFragment, kDamage, kEof };
    Kind kind = Kind::kEof;
    uint8_t type = 0;
    uint64_t offset = 0;
    uint64_t end = 0;
    std::string_view data;
    std::string reason;
    bool zeroed = false;  // damage: zero-filled space
  };

  Fragment ReadFragment();
  void SkipToNextBlock(uint64_t offset);
  bool ZeroHeaderAt(size_t pos) const;
  // Reports the record in progress as damaged because of what happened at `at`.
  void AbandonRecord(const std::string& what, uint64_t at, Item* item);

  std::string_view buf_;
  size_t pos_ = 0;
  bool in_record_ = false;  // between FIRST and LAST
  uint64_t record_start_ = 0;
  std::string scratch_;        // fragments of the record in progress
  bool after_damage_ = false;  // no record or FIRST since the last damage
  bool held_ = false;          // fragment read but not yet used, see Next()
  Fragment held_fragment_;
};

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_SEGMENT_PARSER_H_
