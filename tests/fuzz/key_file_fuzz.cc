// libFuzzer target: the key file of a WAL directory (wal/key_file_format.h, DIR/keys), parsed
// from arbitrary bytes, as a crash, a damaged disk or another program might leave it.
//
// Input: the whole file.
//
// Invariants checked (abort on violation):
//  - no crash, no UB, nothing read outside the input (an exact-size heap copy, under ASan);
//  - errors are Corruption or Incompatible with a message;
//  - on OK: valid_bytes <= size, and torn exactly when bytes follow the valid prefix; no complete
//    header (valid_bytes 0) only for an input shorter than a header, with no records; every
//    record has a valid key (1..128 bytes of 0x21..0x7e) and a non-zero job id;
//  - the header and records re-encode to exactly the valid prefix, which parses again to the
//    same records, clean (not torn);
//  - what the store does after a torn tail, cut it and append a record, gives a clean file with
//    that record last.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "wal/key_file_format.h"

namespace taskring::wal {
namespace {

using fuzz::CheckErrorStatus;
using Code = Status::Code;

void CheckValidPrefix(std::string_view input, const KeyFileContents& c) {
  FUZZ_CHECK(c.valid_bytes <= input.size(), "valid prefix of %llu bytes in a %zu-byte input",
             (unsigned long long)c.valid_bytes, input.size());
  FUZZ_CHECK(c.torn == (c.valid_bytes < input.size()),
             "torn=%d but the valid prefix is %llu of %zu bytes", c.torn,
             (unsigned long long)c.valid_bytes, input.size());
  if (c.valid_bytes == 0) {
    FUZZ_CHECK(input.size() < kKeyFileHeaderSize && c.records.empty(),
               "no header accepted for a %zu-byte input with %zu records", input.size(),
               c.records.size());
    return;
  }
  FUZZ_CHECK(c.valid_bytes >= kKeyFileHeaderSize, "valid prefix of %llu bytes, under a header",
             (unsigned long long)c.valid_bytes);
  std::string encoded;
  EncodeKeyFileHeader(&encoded);
  for (const KeyRecord& r : c.records) {
    FUZZ_CHECK(ValidIdempotencyKey(r.key), "accepted an invalid key of %zu bytes", r.key.size());
    FUZZ_CHECK(r.job_id != 0, "accepted job id 0");
    EncodeKeyRecord(r.key, r.first_seen_unix_ns, r.job_id, &encoded);
  }
  FUZZ_CHECK(encoded == input.substr(0, c.valid_bytes),
             "re-encoding %zu records gives %zu bytes that differ from the %llu-byte valid prefix",
             c.records.size(), encoded.size(), (unsigned long long)c.valid_bytes);

  // The valid prefix alone: the same records, clean.
  KeyFileContents again;
  Status s = ParseKeyFile(encoded, &again);
  FUZZ_CHECK(s.ok(), "the valid prefix does not parse: %s", s.ToString().c_str());
  FUZZ_CHECK(!again.torn && again.valid_bytes == encoded.size() && again.records == c.records,
             "the valid prefix parses differently (torn=%d, %zu records of %zu)", again.torn,
             again.records.size(), c.records.size());

  // Cut and appended to, as DedupStore does after a torn tail.
  const KeyRecord extra{"fuzz-append", 42, 7};
  EncodeKeyRecord(extra.key, extra.first_seen_unix_ns, extra.job_id, &encoded);
  s = ParseKeyFile(encoded, &again);
  FUZZ_CHECK(s.ok() && !again.torn && again.records.size() == c.records.size() + 1 &&
                 again.records.back() == extra,
             "an append after the valid prefix does not parse back: %s, torn=%d, %zu records",
             s.ToString().c_str(), again.torn, again.records.size());
}

}  // namespace
}  // namespace taskring::wal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskring::wal;
  const std::string input(reinterpret_cast<const char*>(data), size);  // exact-size heap copy
  KeyFileContents contents;
  const taskring::Status s = ParseKeyFile(input, &contents);
  CheckErrorStatus(s, {Code::kCorruption, Code::kIncompatible}, "ParseKeyFile");
  if (s.ok()) CheckValidPrefix(input, contents);
  return 0;
}
