// Text helpers shared by the commands that print jobs.
#ifndef TASKRING_CLI_TEXT_H_
#define TASKRING_CLI_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace taskring::cli {

// Payload bytes as printable text: escapes keep one job per line whatever the bytes are. At
// most `limit` bytes are shown, then "...".
std::string Printable(std::string_view payload, size_t limit);

// "2026-11-22T01:02:03.456Z" (UTC), or "-" for 0.
std::string FormatUnixNs(uint64_t unix_ns);

}  // namespace taskring::cli

#endif  // TASKRING_CLI_TEXT_H_
