// libFuzzer target: attaching to a shared-memory segment whose bytes are arbitrary.
//
// Input layout:
//   byte 0   mode
//              bits 0-1  mapped size: 0 = the image size (at least the 4 KiB header);
//                        1 = the header's segment_bytes; 2 = segment_bytes - 1 - d;
//                        3 = segment_bytes + 1 + d * 4095 (d = bits 5-7)
//              bits 2-3  both zero: also create a real POSIX shm object with these bytes and
//                        Segment::Attach it read-only (1 input in 4)
//              bit 4     also pop both rings and read pending lane records, as an attacher would
//              bits 5-7  d
//   bytes 1- the image: header first, then region bytes; zero-padded or cut to the mapped size
//
// The mapping is page-aligned anonymous memory; bytes past the mapped size are ASan-poisoned, so
// a read one byte too far is reported. Sizes above kMaxBufferBytes are validated as claimed sizes
// only (no buffer that large), with the region arithmetic checked but not touched.
//
// Invariants checked (abort on violation): no crash or UB; ValidateHeader's errors are
// Corruption/Incompatible/NotReady with a message (Attach: also Closed, for an unpublished
// segment whose daemon-life mutex is not held), and it reads nothing when the mapping is
// smaller than the header; a header it accepts has its magic, version and size, its layout
// equals ComputeLayout of its params, and every region computed from the validated copies lies
// inside the mapping, aligned, in order and without overlap, so touching the first and last
// byte of each (and the views Segment builds on them) stays in bounds; Segment::Attach on the
// same bytes returns a Status and agrees with ValidateHeader.
#include <fcntl.h>
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "segment/client_table.h"
#include "segment/free_stack.h"
#include "segment/lane.h"
#include "segment/metrics_catalog.h"
#include "segment/ring.h"
#include "segment/segment.h"
#include "segment/segment_header.h"
#include "segment/slot.h"
#include "segment/status_table.h"

namespace taskring::segment {
namespace {

using fuzz::CheckErrorStatus;
using Code = Status::Code;

constexpr uint64_t kMaxBufferBytes = 1ULL << 30;  // backed (lazily) by an anonymous mapping
constexpr uint64_t kMaxShmBytes = 256ULL << 20;   // real shm objects (sparse on tmpfs)
constexpr uint64_t kPage = 4096;

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }
bool Pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Reads one byte so the compiler cannot drop the access.
uint8_t Touch(const char* p) { return *reinterpret_cast<const volatile uint8_t*>(p); }

// A page-aligned zero-filled buffer of `usable` bytes (at least the header is mapped) whose
// tail beyond `usable` is poisoned. All buffers share one reservation made on first use (fresh
// mappings at ever new addresses would leave ASan shadow pages resident for each); it is
// zeroed again (MADV_DONTNEED) when the buffer goes away. One buffer at a time.
class Buffer {
 public:
  explicit Buffer(uint64_t usable) : usable_(usable) {
    static char* const reservation = [] {
      void* p = ::mmap(nullptr, kMaxBufferBytes + kPage, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      FUZZ_CHECK(p != MAP_FAILED, "mmap of %llu bytes failed: %s",
                 (unsigned long long)(kMaxBufferBytes + kPage), std::strerror(errno));
      return static_cast<char*>(p);
    }();
    FUZZ_CHECK(usable <= kMaxBufferBytes, "buffer of %llu bytes", (unsigned long long)usable);
    base_ = reservation;
    mapped_ = RoundUp(usable < kHeaderBytes ? kHeaderBytes : usable, kPage);
    if (usable_ < mapped_) ASAN_POISON_MEMORY_REGION(base_ + usable_, mapped_ - usable_);
  }
  ~Buffer() {
    // Only what may have been poisoned (the header and the tail page).
    ASAN_UNPOISON_MEMORY_REGION(base_, kHeaderBytes);
    if (usable_ < mapped_) ASAN_UNPOISON_MEMORY_REGION(base_ + usable_, mapped_ - usable_);
    FUZZ_CHECK(::madvise(base_, mapped_, MADV_DONTNEED) == 0, "madvise: %s", std::strerror(errno));
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  char* base() const { return base_; }
  uint64_t usable() const { return usable_; }

 private:
  uint64_t usable_;
  uint64_t mapped_ = 0;
  char* base_ = nullptr;
};

struct Region {
  const char* name;
  uint64_t offset;
  unsigned __int128 bytes;
};

// The regions an attacher addresses, computed from the validated copies only.
void CheckRegions(const Params& p, const Layout& l, uint64_t mapped, const char* what) {
  Layout recomputed;
  Status s = ComputeLayout(p, &recomputed);
  FUZZ_CHECK(s.ok(), "%s: accepted params that ComputeLayout refuses: %s", what,
             s.ToString().c_str());
  FUZZ_CHECK(recomputed == l, "%s: accepted layout differs from ComputeLayout(params)", what);
  FUZZ_CHECK(Pow2(l.ring_capacity) && l.ring_capacity >= p.capacity, "%s: ring capacity %u", what,
             l.ring_capacity);
  FUZZ_CHECK(Pow2(l.status_entries), "%s: status entries %u", what, l.status_entries);
  FUZZ_CHECK(Pow2(p.lane_capacity), "%s: lane capacity %u", what, p.lane_capacity);
  FUZZ_CHECK(p.capacity > 0 && p.max_clients > 0 && p.max_payload > 0, "%s: zero params", what);
  FUZZ_CHECK(l.payload_stride % kCacheLine == 0 && l.payload_stride >= p.max_payload,
             "%s: payload stride %u for payload %u", what, l.payload_stride, p.max_payload);
  using U128 = unsigned __int128;
  const Region regions[] = {
      {"header", 0, kHeaderBytes},
      {"counters", l.counters_offset, U128{kCounterCount} * sizeof(CounterCell)},
      {"clients", l.clients_offset, U128{p.max_clients} * sizeof(ClientEntry)},
      {"lanes", l.lanes_offset, U128{p.max_clients} * p.lane_capacity * sizeof(LaneRecord)},
      {"free stack", l.free_stack_offset, FreeStackBytes(l.ring_capacity)},
      {"dispatch ring", l.dispatch_ring_offset, RingBytes(l.ring_capacity)},
      {"status", l.status_offset, U128{l.status_entries} * sizeof(StatusEntry)},
      {"slot headers", l.slots_offset, U128{p.capacity} * kSlotHeaderBytes},
      {"payloads", l.slots_offset + SlotHeadersBytes(p.capacity),
       U128{p.capacity} * l.payload_stride},
  };
  U128 prev_end = 0;
  for (const Region& r : regions) {
    FUZZ_CHECK(r.offset % kCacheLine == 0, "%s: %s region at unaligned offset %llu", what, r.name,
               (unsigned long long)r.offset);
    FUZZ_CHECK(r.offset >= prev_end, "%s: %s region at %llu overlaps the one before", what, r.name,
               (unsigned long long)r.offset);
    prev_end = U128{r.offset} + r.bytes;
    FUZZ_CHECK(prev_end <= l.total_bytes, "%s: %s region ends past total_bytes %llu", what, r.name,
               (unsigned long long)l.total_bytes);
  }
  FUZZ_CHECK(l.total_bytes <= mapped, "%s: layout of %llu bytes accepted for a %llu-byte mapping",
             what, (unsigned long long)l.total_bytes, (unsigned long long)mapped);
}

// Reads through every region the way Segment's accessors address them (base + validated
// offsets), first and last byte of each. `base` must be writable when `mutate`.
void Exercise(char* base, const Params& p, const Layout& l, uint64_t job_id, bool mutate) {
  uint64_t sink = 0;
  auto* counters = reinterpret_cast<CounterCell*>(base + l.counters_offset);
  for (uint32_t c = 0; c < kCounterCount; ++c) {
    sink += counters[c].value.load(std::memory_order_relaxed);
  }
  auto* clients = reinterpret_cast<ClientEntry*>(base + l.clients_offset);
  auto* lanes = reinterpret_cast<LaneRecord*>(base + l.lanes_offset);
  for (uint32_t i : {0u, p.max_clients / 2, p.max_clients - 1}) {
    LaneView lane(clients + i, lanes + uint64_t{i} * p.lane_capacity, p.lane_capacity);
    sink += lane.entry()->owner.load(std::memory_order_relaxed);
    sink += lane.entry()->commit_waiters.load(std::memory_order_relaxed);
    sink += lane.Free();
    uint64_t head = 0;
    uint64_t tail = 0;
    if (lane.Pending(&head, &tail)) {
      // A daemon reads [head, tail); bounded here to keep each input fast.
      const uint64_t n = tail - head < 8 ? tail - head : 8;
      for (uint64_t k = 0; k < n; ++k) sink += lane.Read(head + k).op;
      sink += lane.Read(head + p.lane_capacity - 1).attempt;  // the last cell of the lane
    }
  }
  {
    auto* h = reinterpret_cast<RingHeader*>(base + l.dispatch_ring_offset);
    auto* cells = reinterpret_cast<RingCell*>(base + l.dispatch_ring_offset + sizeof(RingHeader));
    RingView ring(h, cells, l.ring_capacity);
    sink += ring.SizeApprox() + ring.capacity();
    sink += cells[l.ring_capacity - 1].value.load(std::memory_order_relaxed);
    if (mutate) {
      uint64_t v = 0;
      // Values are hints: an attacher checks the slot index before using it.
      if (ring.TryPopClaim(&v, [&](uint64_t got) { sink += RefSlot(got) < p.capacity; })) {
        sink += v;
      }
    }
  }
  {
    auto* h = reinterpret_cast<FreeStackHeader*>(base + l.free_stack_offset);
    auto* cells = reinterpret_cast<std::atomic<uint64_t>*>(base + l.free_stack_offset +
                                                           sizeof(FreeStackHeader));
    FreeStackView stack(h, cells, l.ring_capacity);
    sink += stack.SizeApprox() + stack.capacity();
    sink += cells[l.ring_capacity - 1].load(std::memory_order_relaxed);
    if (mutate) {
      // Whatever the top says, a pop and a push stay inside the cells.
      std::atomic<uint64_t> intent{0};
      uint64_t v = 0;
      if (stack.Pop(&intent, &v)) sink += RefSlot(v) < p.capacity;
      sink += stack.Push(v);
    }
  }
  auto* status = reinterpret_cast<StatusEntry*>(base + l.status_offset);
  for (uint64_t id : {job_id, uint64_t{0}, UINT64_MAX}) {
    sink += status[id & (l.status_entries - 1)].packed.load(std::memory_order_relaxed);
  }
  sink += status[l.status_entries - 1].updated_unix_ns.load(std::memory_order_relaxed);
  for (uint32_t i : {0u, p.capacity - 1}) {
    auto* slot = reinterpret_cast<SlotHeader*>(base + l.slots_offset) + i;
    sink += slot->word.load(std::memory_order_relaxed) + slot->payload_len;
    const char* payload =
        base + l.slots_offset + SlotHeadersBytes(p.capacity) + uint64_t{i} * l.payload_stride;
    sink += Touch(payload) + Touch(payload + p.max_payload - 1);
    sink += Touch(payload + l.payload_stride - 1);
  }
  sink += Touch(base + l.total_bytes - 1);
  asm volatile("" : : "r"(sink));
}

std::string QueueName() { return "fuzz" + std::to_string(::getpid()); }

// Creates /dev/shm/taskring.fuzz<pid> holding `image` (cut or zero-padded to `size`), attaches
// read-only, and unlinks it at once (so a crash leaves nothing behind but during Attach).
Status AttachReal(std::string_view image, uint64_t size, std::unique_ptr<Segment>* out) {
  const std::string queue = QueueName();
  const std::string name = "/" + ShmName(queue);
  int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0 && errno == EEXIST) {  // left over by a crashed run of a process with our pid
    ::shm_unlink(name.c_str());
    fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  }
  FUZZ_CHECK(fd >= 0, "shm_open %s: %s", name.c_str(), std::strerror(errno));
  FUZZ_CHECK(::ftruncate(fd, static_cast<off_t>(size)) == 0, "ftruncate %s to %llu: %s",
             name.c_str(), (unsigned long long)size, std::strerror(errno));
  const size_t n = image.size() < size ? image.size() : static_cast<size_t>(size);
  size_t done = 0;
  while (done < n) {
    const ssize_t w = ::pwrite(fd, image.data() + done, n - done, static_cast<off_t>(done));
    FUZZ_CHECK(w > 0, "pwrite %s: %s", name.c_str(), std::strerror(errno));
    done += static_cast<size_t>(w);
  }
  ::close(fd);
  Status s = Segment::Attach(queue, /*read_only=*/true, out);
  ::shm_unlink(name.c_str());
  return s;
}

}  // namespace
}  // namespace taskring::segment

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace taskring::segment;
  using taskring::Status;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view image(reinterpret_cast<const char*>(data) + 1, size - 1);
  const uint64_t d = mode >> 5;

  // The header's own size field, as the bytes say (zero when the image is shorter).
  uint64_t recorded = 0;
  constexpr size_t kSizeField = offsetof(SegmentHeader, segment_bytes);
  if (image.size() >= kSizeField + 8) std::memcpy(&recorded, image.data() + kSizeField, 8);
  uint64_t mapped = 0;
  switch (mode & 3) {
    case 0: mapped = image.size() < kHeaderBytes ? kHeaderBytes : image.size(); break;
    case 1: mapped = recorded; break;
    case 2: mapped = recorded > 1 + d ? recorded - 1 - d : 0; break;
    case 3: mapped = recorded + 1 + d * 4095 < recorded ? UINT64_MAX : recorded + 1 + d * 4095;
  }
  // Only sizes up to kMaxBufferBytes get real memory behind them; a larger claim is validated as
  // a claim (ValidateHeader reads nothing but the header) and its regions are not touched.
  const bool backed = mapped <= kMaxBufferBytes;
  Buffer buf(backed ? mapped : kHeaderBytes);
  ASAN_UNPOISON_MEMORY_REGION(buf.base(), kHeaderBytes);  // copy in even a too-small image
  const size_t copy = image.size() < (backed ? mapped : kHeaderBytes)
                          ? image.size()
                          : static_cast<size_t>(backed ? mapped : kHeaderBytes);
  std::memcpy(buf.base(), image.data(), copy);
  if (buf.usable() < kHeaderBytes) {
    // A mapping smaller than the header: ValidateHeader must not read any of it.
    ASAN_POISON_MEMORY_REGION(buf.base(), kHeaderBytes);
  }
  const auto* h = reinterpret_cast<const SegmentHeader*>(buf.base());

  Params params;
  Layout layout;
  const Status s = ValidateHeader(h, mapped, &params, &layout);
  CheckErrorStatus(
      s, {Status::Code::kCorruption, Status::Code::kIncompatible, Status::Code::kNotReady},
      "ValidateHeader");
  {
    Params p2;
    Layout l2;
    const Status again = ValidateHeader(h, mapped, &p2, &l2);
    FUZZ_CHECK(again.ToString() == s.ToString(), "ValidateHeader is not deterministic");
  }
  if (s.ok()) {
    FUZZ_CHECK(mapped >= kHeaderBytes, "accepted a %llu-byte mapping", (unsigned long long)mapped);
    FUZZ_CHECK(h->magic == kMagic, "accepted a wrong magic");
    FUZZ_CHECK(h->layout_version.load() == kLayoutVersion, "accepted layout version %u",
               h->layout_version.load());
    FUZZ_CHECK(h->header_bytes == kHeaderBytes, "accepted header_bytes %u", h->header_bytes);
    FUZZ_CHECK(h->segment_bytes == layout.total_bytes, "accepted segment_bytes %llu != %llu",
               (unsigned long long)h->segment_bytes, (unsigned long long)layout.total_bytes);
    FUZZ_CHECK(h->durability <= static_cast<uint32_t>(Durability::kNone), "accepted durability %u",
               h->durability);
    FUZZ_CHECK(std::memchr(h->queue_name, '\0', kMaxQueueName) != nullptr,
               "accepted an unterminated queue name");
    CheckRegions(params, layout, mapped, "ValidateHeader");
    if (backed) {
      uint64_t job_id = 0;
      if (image.size() >= 8) std::memcpy(&job_id, image.data() + image.size() - 8, 8);
      Exercise(buf.base(), params, layout, job_id, (mode & 0x10) != 0);
    }
  }

  if ((mode & 0x0c) == 0 && mapped <= kMaxShmBytes) {
    std::unique_ptr<Segment> seg;
    const Status as = AttachReal(image, mapped, &seg);
    CheckErrorStatus(as,
                     {Status::Code::kCorruption, Status::Code::kIncompatible, Status::Code::kClosed,
                      Status::Code::kNotReady, Status::Code::kIOError},
                     "Segment::Attach");
    if (s.ok()) {
      FUZZ_CHECK(as.ok(), "ValidateHeader accepts the bytes, Segment::Attach says %s",
                 as.ToString().c_str());
    }
    if (as.ok()) {
      FUZZ_CHECK(s.ok(), "Segment::Attach accepts bytes ValidateHeader rejects: %s",
                 s.ToString().c_str());
      FUZZ_CHECK(seg->params().capacity == params.capacity &&
                     seg->params().max_payload == params.max_payload &&
                     seg->params().max_clients == params.max_clients &&
                     seg->params().lane_capacity == params.lane_capacity && seg->layout() == layout,
                 "Segment::Attach validated different params or layout");
      // Read-only mapping: loads only, through Segment's own accessors.
      uint64_t sink = 0;
      for (uint32_t c = 0; c < kCounterCount; ++c) sink += seg->Read(static_cast<Counter>(c));
      const Params& p = seg->params();
      sink += seg->client(p.max_clients - 1)->commit_waiters.load();
      uint64_t head = 0;
      uint64_t tail = 0;
      LaneView lane = seg->lane(p.max_clients - 1);
      if (lane.Pending(&head, &tail)) sink += lane.Read(head + p.lane_capacity - 1).op;
      sink += seg->free_stack().SizeApprox() +
              seg->dispatch_ring(taskring::kDefaultPriority).SizeApprox();
      sink += seg->status_entry(UINT64_MAX)->updated_unix_ns.load();
      sink += seg->slot(p.capacity - 1)->not_before_unix_ns;
      sink += Touch(seg->payload(p.capacity - 1) + p.max_payload - 1);
      sink += Touch(reinterpret_cast<const char*>(seg->header()) + seg->layout().total_bytes - 1);
      asm volatile("" : : "r"(sink));
    }
  }
  return 0;
}
