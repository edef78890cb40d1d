#include "io/env.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace taskring::io {

Status ReadFileToString(Env* env, const std::string& path, std::string* out,
                        const ReadableFileOptions& options, uint64_t max_bytes) {
  out->clear();
  std::unique_ptr<ReadableFile> file;
  Status s = env->NewReadableFile(path, options, &file);
  if (!s.ok()) return s;
  const uint64_t want = std::min(file->Size(), max_bytes);
  out->resize(static_cast<size_t>(want));
  size_t got = 0;
  s = file->Read(0, out->size(), out->data(), &got);
  out->resize(got);  // shrank under us: what is there
  return s;
}

Status Annotate(std::string_view what, const Status& s) {
  if (s.ok()) return s;
  std::string msg(what);
  msg += ' ';
  msg += s.message();
  switch (s.code()) {
    case Status::Code::kNotFound: return Status::NotFound(msg);
    case Status::Code::kCorruption: return Status::Corruption(msg);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(msg);
    default: return Status::IOError(msg);
  }
}

Status PosixError(const std::string& path, int err, bool not_found) {
  std::string msg = path;
  msg += ": ";
  msg += std::strerror(err);
  if (not_found && err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

}  // namespace taskring::io
