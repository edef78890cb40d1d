// OutcomeReader: a job's latest outcome record, read by any process from DIR/outcomes/ (format:
// outcome/outcome_record.h), found through the shared-memory OutcomeIndex the daemon fills.
//
// Plain POSIX (open, fstat, pread, close): the client library does not link io::Env. Nothing
// read is trusted: the index lives in shared memory any process may scribble on, and the store
// deletes files under the reader's feet, so every location is checked against the file it
// names, every length against its limit and the file's size, and every record's id and
// checksums before anything is returned.
//
// Thread-safety: const and stateless apart from the directory and the index view; a file is
// opened and closed per call. Lifetime: the mapping behind the index must outlive the reader.
#ifndef TASKRING_OUTCOME_OUTCOME_READER_H_
#define TASKRING_OUTCOME_OUTCOME_READER_H_

#include <cstdint>
#include <string>

#include "outcome/outcome_index.h"
#include "outcome/outcome_record.h"
#include "taskring/status.h"

namespace taskring::outcome {

class OutcomeReader {
 public:
  // outcome_dir = DIR/outcomes. `index` may be invalid (no daemon running): then Find scans the
  // files, newest last, which costs O(store) reads: for the CLI, not for polling.
  OutcomeReader(std::string outcome_dir, OutcomeIndex index);

  // The latest record of job_id. with_result=false reads only the head: one pread of at most
  // 4 KiB (a second one for the result only when it is wanted and was not in the first).
  //  - NotFound: no record (never stored, or its file was deleted: expired or evicted), or the
  //    index entry is stale (it names a place past the end of its file, or a record of another
  //    job there).
  //  - Corruption, naming the file and offset: the bytes at the indexed place are damaged (a
  //    checksum, a length or a field fails), or the record is cut by the end of its file.
  //  - IOError: the OS refused (open, fstat, pread, reading the directory).
  // *result_len, if given, is the size of the record's result (read or not).
  [[nodiscard]] Status Find(uint64_t job_id, bool with_result, OutcomeRecord* out,
                            uint32_t* result_len = nullptr) const;

  const std::string& dir() const { return dir_; }

 private:
  // The record at (file, offset), which should be job_id's.
  Status ReadAt(uint32_t file, uint64_t offset, uint64_t job_id, bool with_result,
                OutcomeRecord* out, uint32_t* result_len) const;
  // Without an index: the newest file holding a record of job_id, and that record's offset (the
  // last one in the file). NotFound when no file has one.
  Status Scan(uint64_t job_id, uint32_t* file, uint64_t* offset) const;

  std::string dir_;
  OutcomeIndex index_;
};

}  // namespace taskring::outcome

#endif  // TASKRING_OUTCOME_OUTCOME_READER_H_
