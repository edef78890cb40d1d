// Physical layout of a WAL segment, shared by WalWriter and the reader (spec: docs/wal_format.md).
//
// A segment is a sequence of 32 KiB blocks. Each block holds fragments:
//
//   +-----------+-----------+--------+----------------+
//   | CRC (4)   | length (2)| type(1)| data (length)  |
//   +-----------+-----------+--------+----------------+
//
// CRC is the masked CRC32C of the type byte followed by the data, little-endian. A logical record
// larger than the room left in a block is split into FIRST, MIDDLE..., LAST fragments. A block
// with fewer than kHeaderSize bytes left is zero-padded, so a header never straddles blocks and a
// reader can resynchronise at any block boundary after damage.
#ifndef TASKRING_WAL_WAL_FORMAT_H_
#define TASKRING_WAL_WAL_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace taskring::wal {

enum FragmentType : uint8_t {
  // Zeroed or preallocated space, never written by the writer as a fragment.
  kZeroType = 0,
  kFullType = 1,
  kFirstType = 2,
  kMiddleType = 3,
  kLastType = 4,
};
inline constexpr uint8_t kMaxFragmentType = kLastType;

inline constexpr size_t kBlockSize = 32768;

// checksum (4) + length (2) + type (1).
inline constexpr size_t kHeaderSize = 4 + 2 + 1;

// Segment files are "wal-" + 20-digit zero-padded segment number + ".log", so that a plain
// lexical sort is also the numeric order.
inline constexpr char kSegmentPrefix[] = "wal-";
inline constexpr char kSegmentSuffix[] = ".log";
inline constexpr size_t kSegmentDigits = 20;

}  // namespace taskring::wal

#endif  // TASKRING_WAL_WAL_FORMAT_H_
