// The key file's format (wal/key_file_format.h): encoding, parsing, torn tails and corruption.
#include "wal/key_file_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace taskring::wal {
namespace {

constexpr uint64_t kT0 = 1'764'000'000'000'000'000ULL;

std::vector<KeyRecord> SomeRecords() {
  return {{"order-1", kT0, 11}, {std::string(kMaxKeyBytes, '~'), kT0 + 5, 12}, {"!", kT0 + 9, 13}};
}

// The file bytes; *offsets gets where each record starts.
std::string EncodeFile(const std::vector<KeyRecord>& records,
                       std::vector<size_t>* offsets = nullptr) {
  std::string file;
  EncodeKeyFileHeader(&file);
  for (const KeyRecord& r : records) {
    if (offsets != nullptr) offsets->push_back(file.size());
    EncodeKeyRecord(r.key, r.first_seen_unix_ns, r.job_id, &file);
  }
  return file;
}

TEST(KeyFileFormatTest, RecordsRoundTrip) {
  const std::string file = EncodeFile(SomeRecords());
  EXPECT_EQ(file.substr(0, kKeyFileHeaderSize), "TRKEYS01");
  KeyFileContents contents;
  ASSERT_OK(ParseKeyFile(file, &contents));
  EXPECT_EQ(contents.records, SomeRecords());
  EXPECT_EQ(contents.valid_bytes, file.size());
  EXPECT_FALSE(contents.torn);
}

TEST(KeyFileFormatTest, RecordSizeIsHeaderPlusKey) {
  std::string rec;
  EncodeKeyRecord("abc", kT0, 1, &rec);
  EXPECT_EQ(rec.size(), kKeyRecordHeaderSize + 3);
}

TEST(KeyFileFormatTest, HeaderOnlyFileHasNoRecords) {
  KeyFileContents contents;
  ASSERT_OK(ParseKeyFile(EncodeFile({}), &contents));
  EXPECT_TRUE(contents.records.empty());
  EXPECT_EQ(contents.valid_bytes, kKeyFileHeaderSize);
  EXPECT_FALSE(contents.torn);
}

TEST(KeyFileFormatTest, EmptyFileHasNoHeaderAndIsNotTorn) {
  KeyFileContents contents;
  ASSERT_OK(ParseKeyFile("", &contents));
  EXPECT_EQ(contents.valid_bytes, 0u);
  EXPECT_FALSE(contents.torn);
}

TEST(KeyFileFormatTest, HeaderCutShortIsTorn) {
  const std::string file = EncodeFile({});
  for (size_t cut = 1; cut < kKeyFileHeaderSize; ++cut) {
    KeyFileContents contents;
    ASSERT_OK(ParseKeyFile(file.substr(0, cut), &contents)) << "cut " << cut;
    EXPECT_EQ(contents.valid_bytes, 0u);
    EXPECT_TRUE(contents.torn);
  }
}

TEST(KeyFileFormatTest, TornTailAtEveryCutPointOfTheLastRecord) {
  std::vector<size_t> offsets;
  const std::string file = EncodeFile(SomeRecords(), &offsets);
  const size_t last = offsets.back();
  std::vector<KeyRecord> kept = SomeRecords();
  kept.pop_back();
  for (size_t cut = last + 1; cut < file.size(); ++cut) {
    KeyFileContents contents;
    ASSERT_OK(ParseKeyFile(file.substr(0, cut), &contents)) << "cut at " << cut;
    EXPECT_TRUE(contents.torn) << "cut at " << cut;
    EXPECT_EQ(contents.valid_bytes, last) << "cut at " << cut;
    EXPECT_EQ(contents.records, kept) << "cut at " << cut;
  }
}

TEST(KeyFileFormatTest, BadChecksumOfTheLastRecordIsTorn) {
  std::vector<size_t> offsets;
  std::string file = EncodeFile(SomeRecords(), &offsets);
  file.back() ^= 0x01;
  KeyFileContents contents;
  ASSERT_OK(ParseKeyFile(file, &contents));
  EXPECT_TRUE(contents.torn);
  EXPECT_EQ(contents.valid_bytes, offsets.back());
  EXPECT_EQ(contents.records.size(), 2u);
}

TEST(KeyFileFormatTest, GarbageTailIsTorn) {
  std::string file = EncodeFile(SomeRecords());
  const size_t valid = file.size();
  file += std::string(300, '\xff');
  file += std::string(300, '\0');
  KeyFileContents contents;
  ASSERT_OK(ParseKeyFile(file, &contents));
  EXPECT_TRUE(contents.torn);
  EXPECT_EQ(contents.valid_bytes, valid);
  EXPECT_EQ(contents.records, SomeRecords());
}

TEST(KeyFileFormatTest, BadChecksumInTheMiddleIsCorruption) {
  std::vector<size_t> offsets;
  const std::string good = EncodeFile(SomeRecords(), &offsets);
  // A flipped bit in each field of the middle record: its CRC, length, time, job id and key.
  for (size_t at : {size_t{0}, size_t{4}, size_t{6}, size_t{14}, kKeyRecordHeaderSize + 3}) {
    std::string file = good;
    file[offsets[1] + at] ^= 0x04;
    KeyFileContents contents;
    const Status s = ParseKeyFile(file, &contents);
    EXPECT_TRUE(s.IsCorruption()) << "byte " << at << ": " << s.ToString();
    EXPECT_NE(s.message().find("offset " + std::to_string(offsets[1])), std::string::npos)
        << s.ToString();
  }
}

TEST(KeyFileFormatTest, InvalidKeyBytesAreCorruptionEvenAtTheEnd) {
  for (const std::string& key :
       std::vector<std::string>{"has space", std::string("nul\0", 4), "del\x7f", "hi\x80"}) {
    std::string file = EncodeFile(SomeRecords());
    EncodeKeyRecord(key, kT0, 7, &file);  // checksum valid: a writer bug, not a torn write
    KeyFileContents contents;
    const Status s = ParseKeyFile(file, &contents);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find("outside 0x21..0x7e"), std::string::npos) << s.ToString();
  }
}

TEST(KeyFileFormatTest, InvalidKeyLengthsAreCorruption) {
  for (const std::string& key : {std::string(), std::string(kMaxKeyBytes + 1, 'k')}) {
    std::string file = EncodeFile(SomeRecords());
    EncodeKeyRecord(key, kT0, 7, &file);
    KeyFileContents contents;
    const Status s = ParseKeyFile(file, &contents);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find("key length " + std::to_string(key.size())), std::string::npos)
        << s.ToString();
  }
}

TEST(KeyFileFormatTest, JobIdZeroIsCorruption) {
  std::string file = EncodeFile(SomeRecords());
  EncodeKeyRecord("k", kT0, 0, &file);
  KeyFileContents contents;
  const Status s = ParseKeyFile(file, &contents);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("job id 0"), std::string::npos) << s.ToString();
}

TEST(KeyFileFormatTest, WrongMagicIsCorruption) {
  for (const std::string& file :
       {std::string("TRQUEID1") + std::string(40, 'x'), std::string("trkeys01"),
        std::string("TRKEYSxy"), std::string("TRX")}) {
    KeyFileContents contents;
    const Status s = ParseKeyFile(file, &contents);
    EXPECT_TRUE(s.IsCorruption()) << file << ": " << s.ToString();
    EXPECT_NE(s.message().find("not a taskring key file"), std::string::npos) << s.ToString();
  }
}

TEST(KeyFileFormatTest, OtherVersionIsIncompatible) {
  std::string file = EncodeFile(SomeRecords());
  file[7] = '2';
  KeyFileContents contents;
  const Status s = ParseKeyFile(file, &contents);
  EXPECT_TRUE(s.IsIncompatible()) << s.ToString();
  EXPECT_NE(s.message().find("version 02"), std::string::npos) << s.ToString();
}

TEST(KeyFileFormatTest, ValidIdempotencyKeyFollowsTheOptionsRule) {
  EXPECT_TRUE(ValidIdempotencyKey("!"));
  EXPECT_TRUE(ValidIdempotencyKey("~"));
  EXPECT_TRUE(ValidIdempotencyKey(std::string(kMaxKeyBytes, 'a')));
  EXPECT_FALSE(ValidIdempotencyKey(""));
  EXPECT_FALSE(ValidIdempotencyKey(std::string(kMaxKeyBytes + 1, 'a')));
  EXPECT_FALSE(ValidIdempotencyKey("a b"));
  EXPECT_FALSE(ValidIdempotencyKey("tab\t"));
  EXPECT_FALSE(ValidIdempotencyKey("\x7f"));
  EXPECT_FALSE(ValidIdempotencyKey("caf\xc3\xa9"));
}

}  // namespace
}  // namespace taskring::wal
