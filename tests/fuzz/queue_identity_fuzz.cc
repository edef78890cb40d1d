// libFuzzer target: the IDENTITY file of a WAL directory (wal/queue_identity.h) with arbitrary
// bytes, as a damaged disk or another program might leave it.
//
// Invariants checked (abort on violation): no crash or UB, nothing read outside the input;
// errors are Corruption with a message; an accepted file has a valid queue name and durability,
// and encodes back to exactly the input bytes (the format has one encoding per identity).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "wal/queue_identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using taskring::Status;
  const std::string input(reinterpret_cast<const char*>(data), size);  // exact-size heap copy
  taskring::wal::QueueIdentity id;
  const Status s = taskring::wal::DecodeQueueIdentity(input, &id);
  taskring::fuzz::CheckErrorStatus(s, {Status::Code::kCorruption}, "DecodeQueueIdentity");
  if (s.ok()) {
    FUZZ_CHECK(!id.queue.empty() && id.queue.size() < 64, "accepted a %zu-byte name",
               id.queue.size());
    FUZZ_CHECK(id.durability <= 2, "accepted durability %u", id.durability);
    std::string again;
    taskring::wal::EncodeQueueIdentity(id, &again);
    FUZZ_CHECK(again == input, "re-encoding differs from the accepted input");
  }
  return 0;
}
