// libFuzzer target: a job's meta (util/job_meta.h: type, idempotency key, headers) decoded from
// arbitrary bytes, as a scribbling process may leave it in a slot's meta area or a damaged disk
// in an ENQUEUE record.
//
// Input: the meta bytes.
//
// Invariants checked (abort on violation):
//  - no crash, no UB, nothing read outside the input (an exact-size heap copy, under ASan);
//  - errors are Corruption with a message;
//  - on OK: every field keeps the rules (validated again), the meta re-encodes to exactly the
//    input, and the empty input is the only empty meta;
//  - JobTypeHash is 0 exactly for the empty type.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "util/job_meta.h"

namespace taskring::util {
namespace {

using fuzz::CheckErrorStatus;
using Code = Status::Code;

void Check(std::string_view input) {
  JobMeta meta;
  Status s = DecodeJobMeta(input, &meta);
  CheckErrorStatus(s, {Code::kCorruption}, "DecodeJobMeta");
  if (!s.ok()) return;
  FUZZ_CHECK(ValidateJobType(meta.type).ok(), "accepted a bad type");
  FUZZ_CHECK(ValidateIdempotencyKey(meta.key).ok(), "accepted a bad key");
  for (const auto& [name, value] : meta.headers) {
    FUZZ_CHECK(ValidateJobHeader(name, value).ok(), "accepted a bad header");
  }
  FUZZ_CHECK(meta.empty() == input.empty(), "empty meta from %zu bytes", input.size());
  std::string encoded;
  s = EncodeJobMeta(meta, &encoded);
  FUZZ_CHECK(s.ok(), "a decoded meta does not encode: %s", s.ToString().c_str());
  FUZZ_CHECK(encoded == input, "re-encoding changed %zu bytes into %zu", input.size(),
             encoded.size());
  FUZZ_CHECK((JobTypeHash(meta.type) == 0) == meta.type.empty(), "type hash 0 for a type");
}

}  // namespace
}  // namespace taskring::util

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy, so ASan catches a read one byte past the input.
  std::unique_ptr<char[]> copy(new char[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(copy.get(), data, size);
  taskring::util::Check(std::string_view(copy.get(), size));
  return 0;
}
