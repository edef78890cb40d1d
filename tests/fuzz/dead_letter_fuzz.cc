// libFuzzer target: a dead-letter file (deadletter/dead_letter.h, DIR/dead/*), decoded from
// arbitrary bytes, as a damaged disk or another program might leave it.
//
// Input: the whole file.
//
// Invariants checked (abort on violation):
//  - no crash, no UB, nothing read outside the input (an exact-size heap copy, under ASan);
//  - errors are Corruption with a message;
//  - on OK: the priority is in range and the meta decodes; the letter re-encodes to exactly the
//    input (a version-1 letter: to a version-2 one) and decodes back equal.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "deadletter/dead_letter.h"
#include "fuzz_common.h"
#include "util/job_meta.h"

namespace taskring::deadletter {
namespace {

using fuzz::CheckErrorStatus;
using Code = Status::Code;

void Check(std::string_view input) {
  DeadLetter d;
  Status s = DecodeDeadLetter(input, &d);
  CheckErrorStatus(s, {Code::kCorruption}, "DecodeDeadLetter");
  if (!s.ok()) return;
  FUZZ_CHECK(d.priority <= 9, "priority %u accepted", d.priority);
  util::JobMeta meta;
  FUZZ_CHECK(util::DecodeJobMeta(d.meta, &meta).ok(), "accepted a meta that does not decode");
  std::string encoded;
  EncodeDeadLetter(d, &encoded);
  const bool version2 = input.size() > 16 && input[16] == 2;
  FUZZ_CHECK(!version2 || encoded == input, "re-encoding changed %zu bytes into %zu", input.size(),
             encoded.size());
  DeadLetter again;
  s = DecodeDeadLetter(encoded, &again);
  FUZZ_CHECK(s.ok(), "a re-encoded letter does not decode: %s", s.ToString().c_str());
  FUZZ_CHECK(again == d, "a re-encoded letter decodes differently");
}

}  // namespace
}  // namespace taskring::deadletter

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<char[]> copy(new char[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(copy.get(), data, size);
  taskring::deadletter::Check(std::string_view(copy.get(), size));
  return 0;
}
