// Record versions 1 to 3, which older daemons wrote (wal_record.h has the layouts' history).
#ifndef TASKRING_WAL_WAL_RECORD_LEGACY_H_
#define TASKRING_WAL_WAL_RECORD_LEGACY_H_

#include <string_view>

#include "taskring/status.h"
#include "wal/wal_record.h"

namespace taskring::wal {

// DecodeRecord for a record whose first byte is 1, 2 or 3 (the caller checked); same contract.
[[nodiscard]] Status DecodeLegacyRecord(std::string_view in, WalRecord* rec);

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_RECORD_LEGACY_H_
