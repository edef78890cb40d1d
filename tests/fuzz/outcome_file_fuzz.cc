// libFuzzer target: the outcome store's data files (outcome/outcome_record.h,
// DIR/outcomes/*.out) and single records, decoded from arbitrary bytes, as a crash, a damaged
// disk or another program might leave them (the reader in a client process trusts nothing).
//
// Input: the whole file; the same bytes are also decoded as one record on its own.
//
// Invariants checked (abort on violation):
//  - no crash, no UB, nothing read outside the input (an exact-size heap copy, under ASan);
//  - errors are Corruption or Incompatible with a message;
//  - ParseOutcomeFile on OK: valid_end <= size, 0 only for an input shorter than a header with
//    no records; records are consecutive from the header on, each passes ValidateOutcome, and
//    header + records re-encode to exactly the valid prefix, which parses again clean (valid_end
//    = its size); ScanOutcomeFile agrees on offsets, sizes and valid_end; what the store does
//    after a torn tail (cut it, append a record) parses back with that record last;
//  - DecodeOutcome on OK: the record passes ValidateOutcome and re-encodes to exactly the bytes
//    it took; DecodeOutcomeHead then gives the same fields, result length and size, also when
//    it is given only the frame and head;
//  - CountOutcomeRecordsFrom never counts more records than the bytes could hold;
//  - a short input that ParseOutcomeFileName accepts is exactly OutcomeFileName of its number.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_common.h"
#include "outcome/outcome_record.h"

namespace taskring::outcome {
namespace {

using fuzz::CheckErrorStatus;
using Code = Status::Code;

constexpr uint64_t kMinRecordSize = kOutcomeFrameSize + kOutcomeHeadFixedSize + kOutcomeTrailerSize;

void CheckFile(std::string_view input) {
  std::vector<std::pair<uint64_t, OutcomeRecord>> records;
  uint64_t valid_end = 0;
  Status s = ParseOutcomeFile(input, &records, &valid_end);
  CheckErrorStatus(s, {Code::kCorruption, Code::kIncompatible}, "ParseOutcomeFile");
  if (!s.ok()) return;
  FUZZ_CHECK(valid_end <= input.size(), "valid_end %llu in a %zu-byte input",
             (unsigned long long)valid_end, input.size());
  if (valid_end == 0) {
    FUZZ_CHECK(input.size() < kOutcomeFileHeaderSize && records.empty(),
               "no header accepted for a %zu-byte input with %zu records", input.size(),
               records.size());
    return;
  }
  std::string encoded;
  EncodeOutcomeFileHeader(&encoded);
  for (const auto& [offset, rec] : records) {
    FUZZ_CHECK(offset == encoded.size(), "record at %llu, expected at %zu",
               (unsigned long long)offset, encoded.size());
    const Status v = ValidateOutcome(rec);
    FUZZ_CHECK(v.ok(), "accepted a record ValidateOutcome refuses: %s", v.ToString().c_str());
    EncodeOutcome(rec, &encoded);
  }
  FUZZ_CHECK(encoded == input.substr(0, valid_end),
             "re-encoding %zu records gives %zu bytes that differ from the %llu-byte prefix",
             records.size(), encoded.size(), (unsigned long long)valid_end);

  // The scan the store uses agrees.
  std::vector<std::pair<uint64_t, uint64_t>> scanned;
  uint64_t scan_end = 0;
  s = ScanOutcomeFile(
      input,
      [&](uint64_t offset, const OutcomeRecord& rec, uint64_t size) {
        FUZZ_CHECK(rec.result.empty(), "the scan returned a result");
        scanned.emplace_back(offset, size);
      },
      &scan_end);
  FUZZ_CHECK(s.ok() && scan_end == valid_end && scanned.size() == records.size(),
             "ScanOutcomeFile disagrees: %s, end %llu vs %llu, %zu vs %zu records",
             s.ToString().c_str(), (unsigned long long)scan_end, (unsigned long long)valid_end,
             scanned.size(), records.size());
  for (size_t i = 0; i < scanned.size(); ++i) {
    FUZZ_CHECK(scanned[i].first == records[i].first &&
                   scanned[i].second == EncodedOutcomeSize(records[i].second),
               "ScanOutcomeFile disagrees on record %zu", i);
  }

  // The valid prefix alone: the same records, clean.
  std::vector<std::pair<uint64_t, OutcomeRecord>> again;
  uint64_t again_end = 0;
  s = ParseOutcomeFile(encoded, &again, &again_end);
  FUZZ_CHECK(s.ok() && again_end == encoded.size() && again == records,
             "the valid prefix parses differently: %s, %zu of %zu records", s.ToString().c_str(),
             again.size(), records.size());

  // Cut and appended to, as the store's next start and Flush do.
  OutcomeRecord extra;
  extra.job_id = 7;
  extra.state = JobState::kDead;
  extra.error = "fuzz";
  extra.result = "appended";
  EncodeOutcome(extra, &encoded);
  s = ParseOutcomeFile(encoded, &again, &again_end);
  FUZZ_CHECK(s.ok() && again_end == encoded.size() && again.size() == records.size() + 1 &&
                 again.back().second == extra,
             "an append after the valid prefix does not parse back: %s, %zu records",
             s.ToString().c_str(), again.size());

  const uint64_t counted = CountOutcomeRecordsFrom(input, valid_end);
  FUZZ_CHECK(counted <= (input.size() - valid_end) / (kOutcomeFrameSize + kOutcomeHeadFixedSize),
             "counted %llu records in %llu bytes", (unsigned long long)counted,
             (unsigned long long)(input.size() - valid_end));
}

void CheckRecord(std::string_view input) {
  OutcomeRecord rec;
  uint64_t size = 0;
  Status s = DecodeOutcome(input, &rec, &size);
  CheckErrorStatus(s, {Code::kCorruption}, "DecodeOutcome");
  OutcomeRecord head;
  uint32_t result_len = 0;
  uint64_t head_size = 0;
  const Status hs = DecodeOutcomeHead(input, &head, &result_len, &head_size);
  CheckErrorStatus(hs, {Code::kCorruption}, "DecodeOutcomeHead");
  if (hs.ok()) {
    FUZZ_CHECK(head_size >= kMinRecordSize && head.result.empty(),
               "head gives a record of %llu bytes", (unsigned long long)head_size);
  }
  if (!s.ok()) return;
  FUZZ_CHECK(hs.ok(), "DecodeOutcome accepts what DecodeOutcomeHead refuses: %s",
             hs.ToString().c_str());
  const Status v = ValidateOutcome(rec);
  FUZZ_CHECK(v.ok(), "decoded a record ValidateOutcome refuses: %s", v.ToString().c_str());
  std::string encoded;
  EncodeOutcome(rec, &encoded);
  FUZZ_CHECK(
      size <= input.size() && encoded == input.substr(0, size) && EncodedOutcomeSize(rec) == size,
      "record of %llu bytes re-encodes to %zu different bytes", (unsigned long long)size,
      encoded.size());
  FUZZ_CHECK(head_size == size && result_len == rec.result.size(),
             "head and whole decode disagree on sizes");
  OutcomeRecord without_result = rec;
  without_result.result.clear();
  FUZZ_CHECK(head == without_result, "head and whole decode disagree on fields");
  // Given only the frame and head (what a status poll reads).
  const std::string just_head(input.substr(0, size - result_len - kOutcomeTrailerSize));
  OutcomeRecord head_only;
  s = DecodeOutcomeHead(just_head, &head_only, &result_len, &head_size);
  FUZZ_CHECK(s.ok() && head_only == without_result, "the head alone does not decode: %s",
             s.ToString().c_str());
}

void CheckFileName(std::string_view input) {
  if (input.size() > 32) return;
  uint32_t number = 0;
  if (ParseOutcomeFileName(input, &number)) {
    FUZZ_CHECK(number != 0 && OutcomeFileName(number) == input, "accepted file name");
  }
}

}  // namespace
}  // namespace taskring::outcome

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskring::outcome;
  const std::string input(reinterpret_cast<const char*>(data), size);  // exact-size heap copy
  CheckFile(input);
  CheckRecord(input);
  CheckFileName(input);
  return 0;
}
