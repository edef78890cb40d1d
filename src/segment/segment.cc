#include "segment/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>
#include <random>

#include "util/clock.h"

namespace bip = boost::interprocess;

namespace taskring::segment {

struct Segment::Mapping {
  bip::mapped_region region;
};

namespace {

Status FromBoost(const bip::interprocess_exception& e, const std::string& queue, const char* what) {
  const std::string where = std::string(what) + " segment /dev/shm/" + ShmName(queue);
  switch (e.get_error_code()) {
    case bip::not_found_error:
      return Status::NotFound("queue '" + queue + "' does not exist (no segment /dev/shm/" +
                              ShmName(queue) + "): is taskringd running for it?");
    case bip::security_error: return Status::IOError("permission denied to " + where);
    case bip::out_of_space_error: return Status::IOError("out of shared memory to " + where);
    default: return Status::IOError(std::string("cannot ") + where + ": " + e.what());
  }
}

uint64_t RandomIncarnation() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd() ^ util::NowMonoNs();
}

// Ids a crashed daemon's producers may have taken without the daemon logging them: a successor
// starts past them, so an id a client was given (with an unknown outcome) never names another
// job. The gap covers producers that saw the old daemon alive just before it died.
constexpr uint64_t kIdGapAfterLeftover = 1024;

// Marks a segment left behind as abandoned, if it is one of ours, so clients still mapped to it
// stop using it, and returns its next job id (0 if there is none). The caller then replaces it.
uint64_t AbandonOld(const std::string& queue) {
  uint64_t next_job_id = 0;
  try {
    bip::shared_memory_object shm(bip::open_only, ShmName(queue).c_str(), bip::read_write);
    bip::offset_t size = 0;
    if (shm.get_size(size) && size >= static_cast<bip::offset_t>(kHeaderBytes)) {
      bip::mapped_region region(shm, bip::read_write, 0, kHeaderBytes);
      auto* h = static_cast<SegmentHeader*>(region.get_address());
      if (h->magic == kMagic) {
        h->daemon_state.store(static_cast<uint32_t>(DaemonState::kAbandoned),
                              std::memory_order_release);
        const uint32_t version = h->layout_version.load(std::memory_order_acquire);
        if (version == kLayoutVersion || version == 0) {  // a layout whose id field we know
          next_job_id = h->next_job_id.load(std::memory_order_acquire);
        }
      }
    }
  } catch (const bip::interprocess_exception&) {
    // Not there or unreadable: nothing to warn live clients about.
  }
  return next_job_id;
}

}  // namespace

Segment::Segment(std::string queue, std::unique_ptr<Mapping> mapping)
    : queue_(std::move(queue)), mapping_(std::move(mapping)) {
  base_ = static_cast<char*>(mapping_->region.get_address());
  header_ = reinterpret_cast<SegmentHeader*>(base_);
}

Segment::~Segment() {
  // A robust mutex must not be unmapped while locked: it sits on the thread's robust list,
  // which the kernel and glibc walk later.
  if (life_held_) ReleaseDaemonLife();
  // A segment that never appeared under the queue's name is nobody's: a failed start leaves
  // nothing behind.
  if (staged_) bip::shared_memory_object::remove(StagingShmName(queue_).c_str());
}

Status Segment::Create(const std::string& queue, const CreateOptions& opts,
                       std::unique_ptr<Segment>* out) {
  Status s = ValidateQueueName(queue);
  if (!s.ok()) return s;
  Layout layout;
  s = ComputeLayout(opts.params, &layout);
  if (!s.ok()) return s;
  if (opts.wal_dir.size() >= kMaxWalDir) {
    return Status::InvalidArgument("WAL directory path is longer than " +
                                   std::to_string(kMaxWalDir - 1) + " bytes");
  }
  // Built under a staging name (left over only if a daemon died while starting; the caller
  // holds the queue lock, so any staging segment is stale).
  const std::string staging = StagingShmName(queue);
  bip::shared_memory_object::remove(staging.c_str());
  auto mapping = std::make_unique<Mapping>();
  try {
    bip::permissions perm(opts.group_access ? 0660 : 0600);
    bip::shared_memory_object shm(bip::create_only, staging.c_str(), bip::read_write, perm);
    shm.truncate(static_cast<bip::offset_t>(layout.total_bytes));
    // Reserve every page now: a /dev/shm too small for the queue is a clear error at start, not
    // a SIGBUS in some producer hours later (tmpfs allocates lazily).
    const int err = ::posix_fallocate(shm.get_mapping_handle().handle, 0,
                                      static_cast<off_t>(layout.total_bytes));
    if (err != 0) {
      bip::shared_memory_object::remove(staging.c_str());
      return Status::IOError("cannot reserve " + std::to_string(layout.total_bytes >> 20) +
                             " MiB in /dev/shm for queue '" + queue + "': " + std::strerror(err) +
                             " (lower --capacity or --max-payload)");
    }
    mapping->region = bip::mapped_region(shm, bip::read_write, 0, layout.total_bytes);
#ifdef MADV_POPULATE_WRITE
    // Map the pages too, so the first enqueues do not pay a page fault each (best effort).
    ::madvise(mapping->region.get_address(), layout.total_bytes, MADV_POPULATE_WRITE);
#endif
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(staging.c_str());
    return FromBoost(e, queue, "create");
  }
  std::unique_ptr<Segment> seg(new Segment(queue, std::move(mapping)));
  seg->staged_ = true;
  // ftruncate gave us zero pages; fill in the header and rings. Version stays 0 until Publish.
  SegmentHeader* h = seg->header_;
  h->magic = kMagic;
  h->header_bytes = kHeaderBytes;
  h->segment_bytes = layout.total_bytes;
  h->params = opts.params;
  h->layout = layout;
  h->durability = static_cast<uint32_t>(opts.durability);
  h->default_max_attempts = opts.default_max_attempts;
  h->lease_ms = opts.lease_ms;
  h->default_timeout_ms = opts.default_timeout_ms;
  h->result_ttl_ns = opts.result_ttl_ns;
  h->first_job_id = opts.first_job_id;
  h->retry_backoff_ms = opts.retry_backoff_ms;
  h->incarnation = RandomIncarnation();
  h->created_unix_ns = util::NowUnixNs();
  std::strncpy(h->queue_name, queue.c_str(), kMaxQueueName - 1);
  std::strncpy(h->wal_dir, opts.wal_dir.c_str(), kMaxWalDir - 1);
  h->daemon_pid.store(::getpid(), std::memory_order_relaxed);
  h->daemon_state.store(static_cast<uint32_t>(DaemonState::kStarting), std::memory_order_relaxed);
  h->next_job_id.store(1, std::memory_order_relaxed);
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&h->daemon_life, &attr);
  pthread_mutexattr_destroy(&attr);
  // Held from before the segment is visible, so an attacher can always tell a daemon that is
  // starting (held) from one that died (OWNER_DIED) or a leftover (never held).
  pthread_mutex_lock(&h->daemon_life);
  seg->life_held_ = true;
  seg->params_ = opts.params;
  seg->layout_ = layout;
  seg->free_stack().Init();
  for (uint32_t p = 0; p < kPriorityLevels; ++p) seg->dispatch_ring(p).Init();
  for (uint32_t i = 0; i < opts.params.capacity; ++i) {
    seg->slot(i)->word.store(PackSlotWord(1, kNoClient, SlotState::kFree),
                             std::memory_order_relaxed);
  }
  *out = std::move(seg);
  return Status::OK();
}

Status Segment::Install() {
  if (!staged_) return Status::InvalidArgument("segment is not staged");
  const uint64_t old_next = AbandonOld(queue_);
  // Nobody can attach to the staged segment yet: a plain store is enough.
  if (old_next != 0 && old_next < (uint64_t{1} << 47) &&
      header_->next_job_id.load() < old_next + kIdGapAfterLeftover) {
    header_->next_job_id.store(old_next + kIdGapAfterLeftover, std::memory_order_release);
  }
  const std::string from = "/dev/shm/" + StagingShmName(queue_);
  const std::string to = "/dev/shm/" + ShmName(queue_);
  // rename() replaces a leftover atomically: an attacher finds the old segment or the new one.
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::IOError("cannot rename " + from + " to " + to + ": " + std::strerror(errno));
  }
  staged_ = false;
  return Status::OK();
}

void Segment::ReleaseDaemonLife() {
  if (!life_held_) return;
  pthread_mutex_unlock(&header_->daemon_life);
  life_held_ = false;
}

void Segment::Publish() {
  header_->layout_version.store(kLayoutVersion, std::memory_order_release);
}

Status Segment::Attach(const std::string& queue, bool read_only, std::unique_ptr<Segment>* out) {
  Status s = ValidateQueueName(queue);
  if (!s.ok()) return s;
  const auto mode = read_only ? bip::read_only : bip::read_write;
  auto mapping = std::make_unique<Mapping>();
  try {
    bip::shared_memory_object shm(bip::open_only, ShmName(queue).c_str(), mode);
    bip::offset_t size = 0;
    if (!shm.get_size(size) || size < static_cast<bip::offset_t>(kHeaderBytes)) {
      return Status::Corruption("segment /dev/shm/" + ShmName(queue) + " is truncated (" +
                                std::to_string(size) + " bytes): not created by taskringd?");
    }
    mapping->region = bip::mapped_region(shm, mode, 0, static_cast<size_t>(size));
  } catch (const bip::interprocess_exception& e) {
    return FromBoost(e, queue, "open");
  }
  const uint64_t mapped = mapping->region.get_size();
  std::unique_ptr<Segment> seg(new Segment(queue, std::move(mapping)));
  s = ValidateHeader(seg->header_, mapped, &seg->params_, &seg->layout_);
  if (s.IsNotReady()) {
    // The daemon builds the segment under a temporary name and holds its life mutex before the
    // segment appears under the queue's name, so an unpublished segment whose life mutex is not
    // held was left by a daemon that died while starting: waiting would never end.
    const int32_t pid = seg->header_->daemon_pid.load(std::memory_order_relaxed);
    if (DaemonLifeHeld(seg->header_)) {
      return Status::NotReady("daemon (pid " + std::to_string(pid) + ") for queue '" + queue +
                              "' is starting (recovering its WAL)");
    }
    return Status::Closed("segment /dev/shm/" + ShmName(queue) + " was left by a daemon (pid " +
                          std::to_string(pid) + ") that died while starting: start taskringd " +
                          "for queue '" + queue + "'");
  }
  if (s.IsIncompatible()) {
    return Status::Incompatible("queue '" + queue + "': " + std::string(s.message()));
  }
  if (s.IsCorruption()) {
    return Status::Corruption("queue '" + queue + "': " + std::string(s.message()));
  }
  if (!s.ok()) return s;
  *out = std::move(seg);
  return Status::OK();
}

void Segment::Remove(const std::string& queue) {
  bip::shared_memory_object::remove(ShmName(queue).c_str());
}

void Segment::AddRejected(uint32_t client, RejectReason r, uint64_t n) const {
  if (!ValidClient(client) || r >= RejectReason::kCount) return;
  std::atomic<uint64_t>& cell = this->client(client)->rejected[static_cast<uint32_t>(r)];
  // Single writer (the entry's holder): no locked read-modify-write needed.
  cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

uint64_t Segment::ReadRejected(RejectReason r) const {
  if (r >= RejectReason::kCount) return 0;
  uint64_t sum = 0;
  for (uint32_t i = 0; i < params_.max_clients; ++i) {
    sum += client(i)->rejected[static_cast<uint32_t>(r)].load(std::memory_order_relaxed);
  }
  return sum;
}

}  // namespace taskring::segment
