// The write-ahead log, from the CPU work per record to the disk's own latency.
//
//   BM_Wal_EncodeRecord_Enqueue64        EncodeRecord of an ENQUEUE with a 64-byte payload into a
//                                        reused string (114 bytes, no allocation).
//   BM_Crc32c_Sse42/bytes:N              crc32c::detail::ExtendSse42 (the crc32 instruction).
//   BM_Crc32c_Portable/bytes:N           crc32c::detail::ExtendPortable (Boost.CRC table), N = 64
//                                        and 4096: the baseline for the row above.
//   BM_Wal_WriterAdd_Enqueue64/flush_every:N
//                                        WalWriter::Add of that record: LSN, encode, 32 KiB block
//                                        framing with two CRC32C calls, append to the log buffer.
//                                        No I/O in the timed region: every N records (a group
//                                        commit of 64, or a burst of 4096) the buffer is flushed
//                                        to a directory in /dev/shm (tmpfs), outside the timed
//                                        region (manual time per batch of N).
//                                        A buffer that grows past ~128 KiB (N=4096) is allocated
//                                        fresh after each flush and pays its page faults in Add.
//   BM_Disk_WriteFdatasync/bytes:121     pwrite of one framed ENQUEUE record (7 + 114 bytes)
//                                        appended to a file, then fdatasync: the disk's own
//                                        durable-write latency, which bounds fsync-mode enqueues.
//   BM_Wal_WriterAddFlushSync/records:N  what the daemon does per group commit: N x Add, Flush
//                                        (pwrite), Sync (fdatasync). records:1 against the raw
//                                        row above is the WalWriter's overhead; records:64 shows
//                                        what group commit buys (items = records).
//
// The disk rows write under $TASKRING_BENCH_DISK_DIR (default /tmp); the label names the
// directory and its file system type, so a tmpfs run (no real sync) is visible in the output.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "bench_common.h"
#include "util/crc32c.h"
#include "wal/wal_format.h"
#include "wal/wal_record.h"
#include "wal/wal_writer.h"

namespace taskring::bench {
namespace {

constexpr size_t kPayload = 64;

wal::WalRecord EnqueueRecord() {
  wal::WalRecord rec;
  rec.type = wal::RecordType::kEnqueue;
  rec.lsn = 12345;
  rec.job_id = 678;
  rec.attempt = 0;
  rec.max_attempts = 3;
  rec.priority = 1;
  rec.enqueued_unix_ns = 1'795'000'000'000'000'000ULL;
  rec.payload.assign(kPayload, 'p');
  return rec;
}

// A fresh directory under `parent`, removed (with its files) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& parent) {
    std::string tmpl = parent + "/taskring_bench_XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    RemoveFiles();
    ::rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  // Unlinks every file in the directory (open descriptors keep theirs alive until closed).
  void RemoveFiles() const {
    DIR* d = ::opendir(path_.c_str());
    if (d == nullptr) return;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      ::unlink((path_ + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }

 private:
  std::string path_;
};

std::string DiskDir() {
  const char* env = std::getenv("TASKRING_BENCH_DISK_DIR");
  return env != nullptr && *env != '\0' ? env : "/tmp";
}

std::string FsLabel(const std::string& dir) {
  struct statfs fs {};
  std::string type = "unknown";
  if (::statfs(dir.c_str(), &fs) == 0) {
    switch (static_cast<unsigned long>(fs.f_type)) {
      case EXT4_SUPER_MAGIC: type = "ext4"; break;  // also ext2/ext3
      case XFS_SUPER_MAGIC: type = "xfs"; break;
      case BTRFS_SUPER_MAGIC: type = "btrfs"; break;
      case TMPFS_MAGIC: type = "tmpfs(no real sync)"; break;
      case OVERLAYFS_SUPER_MAGIC: type = "overlayfs"; break;
      default: break;
    }
  }
  return "dir=" + dir + " fs=" + type;
}

void BM_Wal_EncodeRecord_Enqueue64(benchmark::State& state) {
  const wal::WalRecord rec = EnqueueRecord();
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    wal::EncodeRecord(rec, &out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  if (out.size() != wal::kEnqueueFixedSize + kPayload) state.SkipWithError("unexpected size");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_Wal_EncodeRecord_Enqueue64)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b);
});

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void BM_Crc32c_Sse42(benchmark::State& state) {
  if (!util::crc32c::detail::HardwareAvailable()) {
    state.SkipWithError("no SSE4.2 on this CPU");
    for (auto _ : state) {
    }
    return;
  }
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(util::crc32c::detail::ExtendSse42(0, data.data(), data.size()));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32c_Sse42)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("bytes")->Arg(64)->Arg(4096));
});

void BM_Crc32c_Portable(benchmark::State& state) {
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(util::crc32c::detail::ExtendPortable(0, data.data(), data.size()));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32c_Portable)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("bytes")->Arg(64)->Arg(4096));
});

void BM_Wal_WriterAdd_Enqueue64(benchmark::State& state) {
  TempDir dir("/dev/shm");
  std::unique_ptr<wal::WalWriter> writer;
  wal::WalWriterOptions opts;
  opts.segment_bytes = 4 << 20;  // rotation closes the old (already unlinked) file: bounded memory
  if (!dir.ok() || !wal::WalWriter::Open(dir.path(), opts, 1, &writer).ok()) {
    state.SkipWithError("cannot open a WalWriter in /dev/shm");
    for (auto _ : state) {
    }
    return;
  }
  wal::WalRecord rec = EnqueueRecord();
  const int64_t batch = state.range(0);
  bool failed = false;
  // One iteration = `batch` Adds, timed by hand; the Flush that follows is outside the reported
  // time (manual time, so no PauseTiming overhead leaks into a ~30 ns operation).
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < batch; ++i) benchmark::DoNotOptimize(writer->Add(rec));
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    failed = failed || !writer->Flush().ok();
    dir.RemoveFiles();
  }
  if (failed) state.SkipWithError("flush to /dev/shm failed");
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Wal_WriterAdd_Enqueue64)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("flush_every")->Arg(64)->Arg(4096)->UseManualTime());
});

void BM_Disk_WriteFdatasync(benchmark::State& state) {
  const std::string parent = DiskDir();
  TempDir dir(parent);
  const int fd = dir.ok() ? ::open((dir.path() + "/record.log").c_str(),
                                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                          : -1;
  if (fd < 0) {
    state.SkipWithError(("cannot create a file under " + parent).c_str());
    for (auto _ : state) {
    }
    return;
  }
  const std::string record(static_cast<size_t>(state.range(0)), 'r');
  off_t offset = 0;
  bool failed = false;
  for (auto _ : state) {
    failed |=
        ::pwrite(fd, record.data(), record.size(), offset) != static_cast<ssize_t>(record.size());
    failed |= ::fdatasync(fd) != 0;
    offset += static_cast<off_t>(record.size());
  }
  ::close(fd);
  if (failed) state.SkipWithError("pwrite or fdatasync failed");
  state.SetLabel(FsLabel(parent));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Disk_WriteFdatasync)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("bytes")
            ->Arg(static_cast<int64_t>(wal::kHeaderSize + wal::kEnqueueFixedSize + kPayload))
            ->UseRealTime());
});

void BM_Wal_WriterAddFlushSync(benchmark::State& state) {
  const std::string parent = DiskDir();
  TempDir dir(parent);
  std::unique_ptr<wal::WalWriter> writer;
  if (!dir.ok() || !wal::WalWriter::Open(dir.path(), wal::WalWriterOptions{}, 1, &writer).ok()) {
    state.SkipWithError(("cannot open a WalWriter under " + parent).c_str());
    for (auto _ : state) {
    }
    return;
  }
  const int64_t records = state.range(0);
  wal::WalRecord rec = EnqueueRecord();
  bool failed = false;
  for (auto _ : state) {
    for (int64_t i = 0; i < records; ++i) writer->Add(rec);
    failed |= !writer->Flush().ok();
    failed |= !writer->Sync().ok();
  }
  if (failed) state.SkipWithError("flush or sync failed");
  state.SetLabel(FsLabel(parent));
  state.SetItemsProcessed(state.iterations() * records);
}
BENCHMARK(BM_Wal_WriterAddFlushSync)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("records")->Arg(1)->Arg(64)->UseRealTime());
});

}  // namespace
}  // namespace taskring::bench
