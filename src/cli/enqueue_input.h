// taskring enqueue's input side: splits a byte stream into records (lines, NUL-terminated
// records or JSON lines) and turns each record into a payload (with its idempotency key under
// --keyed), a skip or a per-record error.
// No daemon is involved, so tests/cli/enqueue_test.cc checks it directly. Header-only: the test
// binaries do not link the command-line sources.
#ifndef TASKRING_CLI_ENQUEUE_INPUT_H_
#define TASKRING_CLI_ENQUEUE_INPUT_H_

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "taskring/options.h"
#include "util/job_meta.h"

namespace taskring::cli {

enum class InputFormat {
  kLines,      // one record per '\n'-terminated line; one trailing '\r' is removed (CRLF input)
  kNull,       // one record per NUL-terminated chunk (xargs -0); bytes are taken as they are
  kJsonLines,  // one JSON object per line: {"payload": "..."}
};

// One record as read: its bytes, or only its size when it was longer than the reader keeps.
struct RawRecord {
  std::string data;
  size_t size = 0;         // bytes in the record (without its separator)
  bool oversized = false;  // size > max_record: data is empty, the bytes were discarded
};

// Splits a stream into records. A final record without a separator counts; a final separator
// does not start an empty record (so "a\n" is one record, "a\nb" two, "" none).
class RecordReader {
 public:
  // read: like read(2) on the input (> 0 bytes, 0 at end of input, < 0 with errno set);
  // ready: true when a read would not block (poll); max_record: longer records are discarded
  // as they stream by (memory stays bounded) and come back with oversized set.
  using ReadFn = std::function<ssize_t(char* buf, size_t len)>;
  using ReadyFn = std::function<bool()>;
  RecordReader(InputFormat format, ReadFn read, ReadyFn ready, size_t max_record)
      : separator_(format == InputFormat::kNull ? '\0' : '\n'),
        strip_cr_(format != InputFormat::kNull),
        read_(std::move(read)),
        ready_(std::move(ready)),
        max_record_(max_record) {}

  enum class Result { kRecord, kEnd, kError };

  // The next record; kEnd at the end of input; kError (see error()) when a read failed.
  Result Next(RawRecord* out) {
    for (;;) {
      const size_t avail = len_ - pos_;
      const char* start = buf_.data() + pos_;
      if (const void* sep = avail > 0 ? std::memchr(start, separator_, avail) : nullptr) {
        const size_t n = static_cast<size_t>(static_cast<const char*>(sep) - start);
        Emit(start, n, out);
        pos_ += n + 1;
        return Result::kRecord;
      }
      if (eof_ || !error_.empty()) {
        if (avail > 0 || discarded_ > 0) {
          Emit(start, avail, out);
          pos_ = len_;
          return Result::kRecord;
        }
        return eof_ ? Result::kEnd : Result::kError;
      }
      if (avail > max_record_) {  // no separator in sight: drop what is buffered, keep counting
        discarded_ += avail;
        pos_ = len_;
      }
      Fill();
    }
  }

  // True when Next() can answer without waiting for more input: a whole record is buffered, or
  // the input is at its end or failed. Reads (without blocking) what the input has ready.
  bool MoreWithoutBlocking() {
    for (;;) {
      if (eof_ || !error_.empty()) return true;
      if (len_ > pos_ && std::memchr(buf_.data() + pos_, separator_, len_ - pos_) != nullptr) {
        return true;
      }
      if (len_ - pos_ > max_record_ + kChunk) return true;  // an oversized record streams by
      if (!ready_()) return false;
      Fill();
    }
  }

  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  static constexpr size_t kChunk = 1 << 20;  // a large read lets a piped file fill whole batches

  void Emit(const char* data, size_t n, RawRecord* out) {
    if (strip_cr_ && n > 0 && data[n - 1] == '\r') --n;
    out->size = discarded_ + n;
    out->oversized = out->size > max_record_;
    if (out->oversized) {
      out->data.clear();
    } else {
      out->data.assign(data, n);
    }
    discarded_ = 0;
  }

  // Appends one read's worth of input to the buffer (compacting it first).
  void Fill() {
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
      len_ -= pos_;
      pos_ = 0;
    }
    if (buf_.size() < len_ + kChunk) buf_.resize(len_ + kChunk);
    for (;;) {
      const ssize_t n = read_(buf_.data() + len_, kChunk);
      if (n > 0) {
        len_ += static_cast<size_t>(n);
        return;
      }
      if (n == 0) {
        eof_ = true;
        return;
      }
      if (errno == EINTR) continue;
      error_ = std::string("cannot read input: ") + std::strerror(errno);
      return;
    }
  }

  const char separator_;
  const bool strip_cr_;
  ReadFn read_;
  ReadyFn ready_;
  const size_t max_record_;
  std::string buf_;
  size_t pos_ = 0, len_ = 0;
  size_t discarded_ = 0;  // bytes of the current record already dropped (oversized)
  bool eof_ = false;
  std::string error_;
};

// What one record asks for.
struct ParsedRecord {
  enum class Kind { kPayload, kSkipEmpty, kError };
  Kind kind = Kind::kError;
  std::string payload;  // kPayload
  std::string error;    // kError: one line, no newline
  std::string key;      // kPayload under --keyed: the idempotency key (never empty)
};

namespace enqueue_internal {

// Error text is printed on one output line: no control characters.
inline std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// A JSON string literal for a key (escaped, so any key prints on one line).
inline std::string Quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline ParsedRecord Error(std::string msg) {
  return {ParsedRecord::Kind::kError, {}, OneLine(msg), {}};
}

// A --keyed record's key: present and valid, or the reason it is not.
inline ParsedRecord CheckKey(ParsedRecord rec) {
  if (rec.kind != ParsedRecord::Kind::kPayload) return rec;
  if (rec.key.empty()) return Error("empty key: a --keyed record needs one");
  if (const Status s = util::ValidateIdempotencyKey(rec.key); !s.ok()) {
    return Error(std::string(s.message()));
  }
  return rec;
}

// KEY<TAB>PAYLOAD: the key ends at the first tab, so a payload may hold tabs of its own.
inline ParsedRecord ParseKeyed(std::string&& data) {
  const size_t tab = data.find('\t');
  if (tab == std::string::npos) return Error("no tab: a --keyed record is KEY<TAB>PAYLOAD");
  ParsedRecord rec{ParsedRecord::Kind::kPayload, data.substr(tab + 1), {}, data.substr(0, tab)};
  if (rec.payload.empty()) return {ParsedRecord::Kind::kSkipEmpty, {}, {}, {}};
  return CheckKey(std::move(rec));
}

inline ParsedRecord ParseJsonLine(const std::string& line, bool keyed = false) {
  if (line.find_first_not_of(" \t\r\n") == std::string::npos) {
    return {ParsedRecord::Kind::kSkipEmpty, {}, {}, {}};
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 9: ..." -> from "parse".
    std::string_view what = e.what();
    if (const size_t b = what.find("] ");
        what.rfind("[json.exception.", 0) == 0 && b != what.npos) {
      what.remove_prefix(b + 2);
    }
    return Error("invalid JSON: " + std::string(what));
  }
  if (!j.is_object()) {
    return Error(std::string("expected a JSON object like {\"payload\": \"...\"}, got ") +
                 j.type_name());
  }
  // Unknown fields are refused rather than ignored: a later version adds fields (priority,
  // type ...), and input written for it must not be half-understood by this one.
  for (const auto& [key, value] : j.items()) {
    if (key == "payload" || (keyed && key == "key")) continue;
    if (key == "key") return Error("field \"key\" needs --keyed");
    return Error("unknown field " + Quoted(key) +
                 (keyed ? " (known: \"payload\", \"key\")" : " (known: \"payload\")"));
  }
  const auto it = j.find("payload");
  if (it == j.end()) return Error("missing field \"payload\"");
  if (!it->is_string()) {
    return Error(std::string("field \"payload\" must be a string, got ") + it->type_name());
  }
  std::string payload = it->get<std::string>();
  if (payload.empty()) return {ParsedRecord::Kind::kSkipEmpty, {}, {}, {}};
  if (!keyed) return {ParsedRecord::Kind::kPayload, std::move(payload), {}, {}};
  const auto k = j.find("key");
  if (k == j.end()) return Error("missing field \"key\" (--keyed)");
  if (!k->is_string()) {
    return Error(std::string("field \"key\" must be a string, got ") + k->type_name());
  }
  return CheckKey({ParsedRecord::Kind::kPayload, std::move(payload), {}, k->get<std::string>()});
}

}  // namespace enqueue_internal

// Turns a record into a payload, a skip (empty record) or an error. max_payload is the queue's
// limit, named in the error for an oversized record. keyed (--keyed): a line or NUL record is
// KEY<TAB>PAYLOAD, a JSON line has a "key" string field; a record without a key is an error,
// an empty one (or one with an empty payload) is skipped.
inline ParsedRecord ParseRecord(InputFormat format, RawRecord&& rec, uint32_t max_payload,
                                bool keyed = false) {
  if (rec.oversized) {
    if (format == InputFormat::kJsonLines) {
      return enqueue_internal::Error("JSON line of " + std::to_string(rec.size) +
                                     " bytes is too long (the queue's max payload is " +
                                     std::to_string(max_payload) + " bytes)");
    }
    return enqueue_internal::Error("payload of " + std::to_string(rec.size) +
                                   " bytes exceeds the queue's max payload of " +
                                   std::to_string(max_payload));
  }
  if (format == InputFormat::kJsonLines) return enqueue_internal::ParseJsonLine(rec.data, keyed);
  if (rec.data.empty()) return {ParsedRecord::Kind::kSkipEmpty, {}, {}, {}};
  if (keyed) return enqueue_internal::ParseKeyed(std::move(rec.data));
  return {ParsedRecord::Kind::kPayload, std::move(rec.data), {}, {}};
}

// The longest record the reader keeps for a queue with this max payload: anything longer is
// refused anyway (a JSON line may escape every byte as \u00XX: 6 bytes each, plus the braces).
// Under --keyed a line or NUL record also holds the longest key and its tab.
inline size_t MaxRecordBytes(InputFormat format, uint32_t max_payload, bool keyed = false) {
  const size_t payload =
      max_payload + (keyed && format != InputFormat::kJsonLines ? kMaxKeyBytes + 1 : 0);
  // Lines: room for the '\r' of a CRLF line, which is counted before it is stripped.
  if (format == InputFormat::kLines) return payload + 1;
  return format == InputFormat::kJsonLines ? 6 * payload + 4096 : payload;
}

}  // namespace taskring::cli

#endif  // TASKRING_CLI_ENQUEUE_INPUT_H_
