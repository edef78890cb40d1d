#include "segment/status_table.h"

namespace taskring::segment {

bool UnpackStatus(uint64_t packed, uint64_t job_id, JobState* state, uint32_t* attempt) {
  if ((packed >> 16) != (job_id & ((uint64_t{1} << 48) - 1))) return false;
  const auto code = static_cast<uint8_t>((packed >> 8) & 0xff);
  // Codes and public states share their numbers (asserted in the header).
  *state = code <= static_cast<uint8_t>(JobStateCode::kDead) ||
                   code == static_cast<uint8_t>(JobStateCode::kCancelled)
               ? static_cast<JobState>(code)
               : JobState::kUnknown;
  *attempt = static_cast<uint32_t>(packed & 0xff);
  return true;
}

}  // namespace taskring::segment
