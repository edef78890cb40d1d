#include "wal/wal_segment_parser.h"

#include <string>

#include "util/coding.h"
#include "util/crc32c.h"
#include "wal/wal_format.h"

namespace taskring::wal {
namespace {

const char* FragmentTypeName(uint8_t type) {
  switch (type) {
    case kFullType: return "FULL";
    case kFirstType: return "FIRST";
    case kMiddleType: return "MIDDLE";
    case kLastType: return "LAST";
  }
  return "?";
}

}  // namespace

void SegmentParser::SkipToNextBlock(uint64_t offset) {
  pos_ = static_cast<size_t>((offset / kBlockSize + 1) * kBlockSize);
}

bool SegmentParser::ZeroHeaderAt(size_t pos) const {
  if (pos + kHeaderSize > buf_.size()) return false;
  return buf_[pos + 4] == 0 && buf_[pos + 5] == 0 && buf_[pos + 6] == kZeroType;
}

SegmentParser::Fragment SegmentParser::ReadFragment() {
  Fragment f;
  while (true) {
    if (pos_ >= buf_.size()) return f;  // kEof
    const size_t block_left = kBlockSize - pos_ % kBlockSize;
    if (block_left < kHeaderSize) {  // trailer padding
      pos_ += block_left;
      continue;
    }
    break;
  }
  f.offset = pos_;
  f.kind = Fragment::Kind::kDamage;
  const size_t block_left = kBlockSize - pos_ % kBlockSize;
  const size_t avail = buf_.size() - pos_;
  if (avail < kHeaderSize) {
    pos_ = buf_.size();
    f.reason = "truncated fragment header (" + std::to_string(avail) + " of " +
               std::to_string(kHeaderSize) + " bytes)";
    return f;
  }
  const char* header = buf_.data() + pos_;
  const size_t length =
      static_cast<uint8_t>(header[4]) | (static_cast<size_t>(static_cast<uint8_t>(header[5])) << 8);
  const uint8_t type = static_cast<uint8_t>(header[6]);

  if (ZeroHeaderAt(pos_)) {
    // Preallocated or zero-filled space: skip it whole, block by block, as one region.
    do {
      SkipToNextBlock(pos_);
    } while (ZeroHeaderAt(pos_));
    f.reason = "zeroed space";
    f.zeroed = true;
    return f;
  }
  if (kHeaderSize + length > block_left) {
    SkipToNextBlock(f.offset);
    f.reason = "fragment length " + std::to_string(length) + " overruns its block";
    return f;
  }
  if (kHeaderSize + length > avail) {
    pos_ = buf_.size();
    f.reason = "truncated fragment (" + std::to_string(avail - kHeaderSize) + " of " +
               std::to_string(length) + " bytes)";
    return f;
  }
  const uint32_t expected = util::crc32c::Unmask(util::DecodeFixed32(header));
  const uint32_t actual = util::crc32c::Value(header + 6, 1 + length);
  if (expected != actual) {
    // Resume right after the damaged fragment rather than at the next block: if its length was
    // intact, the records behind it are found and the damage is correctly reported as being in
    // the middle of the log, not mistaken for a torn tail (which recovery would cut, losing
    // them). If the length was the damaged field, what follows fails its checksum too (a false
    // match is a 2^-32 chance) and parsing falls back to the next block.
    pos_ += kHeaderSize + length;
    f.reason = "checksum mismatch";
    return f;
  }
  pos_ += kHeaderSize + length;
  if (type == kZeroType || type > kMaxFragmentType) {
    f.reason = "unknown fragment type " + std::to_string(type);
    return f;
  }
  f.kind = Fragment::Kind::kFragment;
  f.type = type;
  f.end = pos_;
  f.data = std::string_view(header + kHeaderSize, length);
  return f;
}

void SegmentParser::AbandonRecord(const std::string& what, uint64_t at, Item* item) {
  in_record_ = false;
  after_damage_ = true;
  scratch_.clear();
  item->kind = Item::Kind::kDamage;
  item->offset = record_start_;
  item->reason = "fragmented record dropped: " + what + " at offset " + std::to_string(at);
}

bool SegmentParser::Next(Item* item) {
  *item = Item();
  while (true) {
    Fragment f;
    if (held_) {
      f = std::move(held_fragment_);
      held_ = false;
    } else {
      f = ReadFragment();
    }

    if (f.kind == Fragment::Kind::kEof) {
      if (in_record_) {
        AbandonRecord("end of segment", buf_.size(), item);
        return true;
      }
      return false;
    }
    if (f.kind == Fragment::Kind::kDamage) {
      after_damage_ = true;
      if (in_record_) {
        AbandonRecord(f.reason, f.offset, item);
      } else {
        item->kind = Item::Kind::kDamage;
        item->offset = f.offset;
        item->reason = std::move(f.reason);
      }
      item->zeroed = f.zeroed;
      return true;
    }

    switch (f.type) {
      case kFullType:
      case kFirstType:
        if (in_record_) {
          // Report the unfinished record first; this fragment is used on the next call.
          AbandonRecord(std::string("new ") + FragmentTypeName(f.type) + " fragment", f.offset,
                        item);
          held_fragment_ = std::move(f);
          held_ = true;
          return true;
        }
        after_damage_ = false;
        if (f.type == kFullType) {
          item->kind = Item::Kind::kRecord;
          item->offset = f.offset;
          item->end = f.end;
          item->data = f.data;
          return true;
        }
        in_record_ = true;
        record_start_ = f.offset;
        scratch_.assign(f.data);
        continue;
      case kMiddleType:
      case kLastType:
        if (!in_record_) {
          // Right after damage this is the tail of the record the damage destroyed, already
          // reported; resynchronising past it is expected.
          if (after_damage_) continue;
          after_damage_ = true;
          item->kind = Item::Kind::kDamage;
          item->offset = f.offset;
          item->reason = std::string("orphan ") + FragmentTypeName(f.type) + " fragment";
          return true;
        }
        scratch_.append(f.data);
        if (f.type == kMiddleType) continue;
        in_record_ = false;
        item->kind = Item::Kind::kRecord;
        item->offset = record_start_;
        item->end = f.end;
        item->data = scratch_;
        return true;
    }
  }
}

}  // namespace taskring::wal
