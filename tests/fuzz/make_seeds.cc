// Writes seed inputs for the fuzzers, made with the real writers so they stay valid when the
// formats change:
//
//   taskring_fuzz_seeds wal_reader DIR [--large]
//   taskring_fuzz_seeds segment_attach DIR [--large]
//   taskring_fuzz_seeds queue_identity DIR
//   taskring_fuzz_seeds key_file DIR
//   taskring_fuzz_seeds outcome_file DIR [--large]
//
// Without --large only the small seeds are written (those checked in under corpus/<target>/);
// --large adds bigger ones (WAL records spanning 32 KiB blocks, whole segment images) that
// run_fuzzer.sh generates into its temporary corpus instead of the repository.
// Input formats: see the comments at the top of wal_reader_fuzz.cc and segment_attach_fuzz.cc.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "deadletter/dead_letter.h"
#include "outcome/outcome_record.h"
#include "segment/free_stack.h"
#include "segment/ring.h"
#include "segment/segment_header.h"
#include "segment/slot.h"
#include "util/coding.h"
#include "util/job_meta.h"
#include "wal/key_file_format.h"
#include "wal/queue_identity.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_writer.h"

namespace {

using namespace taskring;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "taskring_fuzz_seeds: %s\n", what.c_str());
  std::exit(1);
}

void WriteSeed(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) Die("cannot write " + dir + "/" + name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// --- WAL -------------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp ? tmp : "/tmp") + "/taskring-seeds-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) Die("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

wal::WalRecord Enqueue(uint64_t job, std::string payload) {
  wal::WalRecord r;
  r.type = wal::RecordType::kEnqueue;
  r.job_id = job;
  r.max_attempts = 3;
  r.priority = 1;
  r.enqueued_unix_ns = 1700000000000000000ULL + job;
  r.payload = std::move(payload);
  return r;
}

wal::WalRecord Other(wal::RecordType type, uint64_t job, uint32_t attempt) {
  wal::WalRecord r;
  r.type = type;
  r.job_id = job;
  r.attempt = attempt;
  if (type == wal::RecordType::kRetry) r.not_before_unix_ns = 1700000000500000000ULL;
  return r;
}

// An ENQUEUE record carrying job meta (type, key, headers) and a timeout.
wal::WalRecord EnqueueWithMeta(uint64_t job, std::string payload) {
  wal::WalRecord r = Enqueue(job, std::move(payload));
  r.priority = 9;
  r.timeout_ms = 30000;
  util::JobMeta meta;
  meta.type = "email.send";
  meta.key = "order-" + std::to_string(job);
  meta.headers = {{"trace-id", "4bf92f3577b34da6"}, {"tenant", "acme"}};
  Status s = util::EncodeJobMeta(meta, &r.meta);
  if (!s.ok()) Die("EncodeJobMeta: " + s.ToString());
  return r;
}

std::vector<wal::WalRecord> SmallRecords() {
  return {Enqueue(1, "hello"),
          Enqueue(2, std::string(100, 'x')),
          Other(wal::RecordType::kComplete, 1, 1),
          Other(wal::RecordType::kRetry, 2, 1),
          Enqueue(3, ""),
          Other(wal::RecordType::kDead, 2, 2),
          EnqueueWithMeta(4, "typed"),
          Other(wal::RecordType::kStart, 4, 1),
          EnqueueWithMeta(5, ""),
          Other(wal::RecordType::kCancel, 5, 0)};
}

// Writes `records` with WalWriter (one Flush per record) and returns the segment files' bytes.
std::vector<std::string> WriteWal(const std::vector<wal::WalRecord>& records,
                                  uint64_t segment_bytes) {
  TempDir dir;
  wal::WalWriterOptions options;
  options.segment_bytes = segment_bytes;
  std::unique_ptr<wal::WalWriter> writer;
  Status s = wal::WalWriter::Open(dir.path(), options, 1, &writer);
  if (!s.ok()) Die("WalWriter::Open: " + s.ToString());
  for (wal::WalRecord rec : records) {
    writer->Add(rec);
    s = writer->Flush();
    if (!s.ok()) Die("WalWriter::Flush: " + s.ToString());
  }
  s = writer->Sync();
  if (!s.ok()) Die("WalWriter::Sync: " + s.ToString());
  writer.reset();
  std::vector<wal::SegmentFile> files;
  s = wal::ListSegments(dir.path(), &files);
  if (!s.ok()) Die("ListSegments: " + s.ToString());
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(ReadFile(f.path));
  return out;
}

// flags byte, split (uint32 LE), body.
std::string WalInput(uint8_t flags, const std::string& seg1, const std::string& seg2 = "") {
  std::string in(1, static_cast<char>(flags));
  util::PutFixed32(&in, static_cast<uint32_t>(seg1.size()));
  in += seg1;
  in += seg2;
  return in;
}

void WalSeeds(const std::string& out, bool large) {
  constexpr uint8_t kTwo = 0x01;
  constexpr uint8_t kMemoryOnly = 0x02;
  constexpr uint8_t kMaxNumber = 0x10;
  constexpr uint8_t kFailCallback = 0x20;

  const std::vector<std::string> one = WriteWal(SmallRecords(), 64 << 20);
  if (one.size() != 1) Die("expected one segment");
  const std::string& seg = one[0];
  WriteSeed(out, "one_segment", WalInput(0, seg));
  WriteSeed(out, "one_segment_memory_only", WalInput(kMemoryOnly, seg));
  WriteSeed(out, "torn_tail", WalInput(0, seg.substr(0, seg.size() - 10)));
  WriteSeed(out, "zero_filled_tail", WalInput(0, seg + std::string(300, '\0')));
  std::string flipped = seg;
  flipped[seg.size() / 3] ^= 0x10;
  WriteSeed(out, "mid_log_corruption", WalInput(0, flipped));

  // Rotation after (about) every record.
  const std::vector<std::string> rotated = WriteWal(SmallRecords(), 100);
  if (rotated.size() < 2) Die("expected rotated segments");
  WriteSeed(out, "two_segments", WalInput(kTwo, rotated[0], rotated[1]));
  WriteSeed(out, "two_segments_callback_fails",
            WalInput(kTwo | kFailCallback | (1 << 6), rotated[0], rotated[1]));
  WriteSeed(out, "two_segments_max_number", WalInput(kTwo | kMaxNumber, rotated[0], rotated[1]));
  WriteSeed(out, "damaged_older_segment",
            WalInput(kTwo, rotated[0].substr(0, rotated[0].size() - 5), rotated[1]));
  WriteSeed(out, "lsn_goes_back", WalInput(kTwo, rotated[1], rotated[0]));
  WriteSeed(out, "empty_second_segment", WalInput(kTwo, seg, ""));

  std::string raw;
  wal::EncodeRecord(Enqueue(7, "raw record"), &raw);
  WriteSeed(out, "raw_record", raw);
  std::string raw_meta;
  wal::EncodeRecord(EnqueueWithMeta(8, "raw record with meta"), &raw_meta);
  WriteSeed(out, "raw_record_meta", raw_meta);
  wal::WalRecord outcome = Other(wal::RecordType::kComplete, 7, 1);
  outcome.event_unix_ns = 1700000001000000000ULL;
  outcome.text = "result bytes";
  std::string raw_outcome;
  wal::EncodeRecord(outcome, &raw_outcome);
  WriteSeed(out, "raw_record_outcome", raw_outcome);
  // Versions 1 and 3 (fixed width, read and never written): every field on every record.
  // Version 1 (before job meta) ends at the payload length; version 3 adds timeout, meta length,
  // secret, event time and text length.
  std::string v1;
  v1.push_back(1);
  v1.push_back(static_cast<char>(wal::RecordType::kEnqueue));
  util::PutFixed64(&v1, 1);                       // lsn
  util::PutFixed64(&v1, 7);                       // job id
  util::PutFixed32(&v1, 0);                       // attempt
  util::PutFixed32(&v1, 3);                       // max attempts
  util::PutFixed32(&v1, 1);                       // priority
  util::PutFixed64(&v1, 1700000000000000007ULL);  // enqueued
  util::PutFixed64(&v1, 0);                       // not before
  util::PutFixed32(&v1, 10);                      // payload length
  std::string v3 = v1 + std::string(4 + 2 + 12 + 8 + 4, '\0');
  v3[0] = 3;
  WriteSeed(out, "raw_record_v1", v1 + "raw record");
  WriteSeed(out, "raw_record_v3", v3 + "raw record");

  if (!large) return;
  // Many records: fragments cross 32 KiB block boundaries, block trailers appear.
  std::vector<wal::WalRecord> many;
  for (uint64_t i = 1; i <= 45; ++i) many.push_back(Enqueue(i, std::string(777, 'a' + i % 26)));
  WriteSeed(out, "large_multi_block", WalInput(0, WriteWal(many, 64 << 20)[0]));
  // One record larger than two blocks: FIRST, MIDDLE, LAST.
  const std::vector<wal::WalRecord> huge = {Enqueue(1, "x"), Enqueue(2, std::string(70000, 'h')),
                                            Other(wal::RecordType::kComplete, 2, 1)};
  const std::string huge_seg = WriteWal(huge, 64 << 20)[0];
  WriteSeed(out, "large_huge_record", WalInput(0, huge_seg));
  WriteSeed(out, "large_huge_record_torn", WalInput(0, huge_seg.substr(0, 40000)));
}

// --- job meta --------------------------------------------------------------------------------

void JobMetaSeeds(const std::string& out) {
  std::string full = EnqueueWithMeta(1, "").meta;
  WriteSeed(out, "full", full);
  WriteSeed(out, "cut", full.substr(0, full.size() - 3));
  util::JobMeta only_type;
  only_type.type = "resize";
  std::string bytes;
  if (!util::EncodeJobMeta(only_type, &bytes).ok()) Die("EncodeJobMeta");
  WriteSeed(out, "type_only", bytes);
  util::JobMeta many;
  for (int i = 0; i < 16; ++i) many.headers.push_back({"h" + std::to_string(i), "v"});
  if (!util::EncodeJobMeta(many, &bytes).ok()) Die("EncodeJobMeta");
  WriteSeed(out, "sixteen_headers", bytes);
}

// --- dead letters ----------------------------------------------------------------------------

void DeadLetterSeeds(const std::string& out) {
  deadletter::DeadLetter d;
  d.job_id = 42;
  d.attempts = 3;
  d.max_attempts = 3;
  d.enqueued_unix_ns = 1700000000000000000ULL;
  d.dead_unix_ns = 1700000001000000000ULL;
  d.payload = "dead payload";
  std::string bytes;
  deadletter::EncodeDeadLetter(d, &bytes);
  WriteSeed(out, "plain", bytes);
  d.priority = 9;
  d.timeout_ms = 2500;
  d.meta = EnqueueWithMeta(42, "").meta;
  bytes.clear();
  deadletter::EncodeDeadLetter(d, &bytes);
  WriteSeed(out, "with_meta", bytes);
  WriteSeed(out, "with_meta_cut", bytes.substr(0, bytes.size() - 4));
}

// --- segment ---------------------------------------------------------------------------------

struct Image {
  segment::Params params;
  segment::Layout layout;
  std::string bytes;  // the header, or the whole segment
};

// A header as Segment::Create + Publish writes it; whole=true: the whole segment, with its rings
// initialised and its slots free.
Image MakeImage(const segment::Params& params, bool whole) {
  using namespace segment;
  Image img;
  img.params = params;
  Status s = ComputeLayout(params, &img.layout);
  if (!s.ok()) Die("ComputeLayout: " + s.ToString());
  const uint64_t size = whole ? img.layout.total_bytes : sizeof(SegmentHeader);
  void* mem = std::aligned_alloc(4096, (size + 4095) / 4096 * 4096);
  if (mem == nullptr) Die("out of memory");
  std::memset(mem, 0, size);
  auto* h = new (mem) SegmentHeader();
  h->magic = kMagic;
  h->header_bytes = kHeaderBytes;
  h->segment_bytes = img.layout.total_bytes;
  h->params = params;
  h->layout = img.layout;
  h->durability = static_cast<uint32_t>(Durability::kFsync);
  h->default_max_attempts = 3;
  h->lease_ms = 30000;
  h->retry_backoff_ms = 1000;
  h->incarnation = 0x1234567890abcdefULL;
  h->created_unix_ns = 1700000000000000000ULL;
  std::strncpy(h->queue_name, "seed", kMaxQueueName - 1);
  h->daemon_pid.store(1);
  h->daemon_state.store(static_cast<uint32_t>(DaemonState::kRunning));
  h->next_job_id.store(1);
  if (whole) {
    char* base = static_cast<char*>(mem);
    const Layout& l = img.layout;
    RingView(reinterpret_cast<RingHeader*>(base + l.dispatch_ring_offset),
             reinterpret_cast<RingCell*>(base + l.dispatch_ring_offset + sizeof(RingHeader)),
             l.ring_capacity)
        .Init();
    FreeStackView free_stack(reinterpret_cast<FreeStackHeader*>(base + l.free_stack_offset),
                             reinterpret_cast<std::atomic<uint64_t>*>(base + l.free_stack_offset +
                                                                      sizeof(FreeStackHeader)),
                             l.ring_capacity);
    free_stack.Init();
    for (uint32_t i = params.capacity; i-- > 0;) {
      auto* slot = reinterpret_cast<SlotHeader*>(base + l.slots_offset) + i;
      slot->word.store(PackSlotWord(1, kNoClient, SlotState::kFree));
      if (!free_stack.Push(PackSlotRef(i, 1))) Die("free stack full");
    }
  }
  h->layout_version.store(kLayoutVersion);
  img.bytes.assign(static_cast<const char*>(mem), size);
  std::free(mem);
  return img;
}

std::string SegInput(uint8_t mode, const std::string& image) {
  return std::string(1, static_cast<char>(mode)) + image;
}

void SegmentSeeds(const std::string& out, bool large) {
  using namespace segment;
  constexpr uint8_t kSizeIsImage = 0, kSizeFromHeader = 1, kSizeShort = 2, kSizeLong = 3;
  constexpr uint8_t kNoAttach = 0x04;
  constexpr uint8_t kRingOps = 0x10;
  const Image min = MakeImage({1, 1, 1, 2}, false);
  const Image typical = MakeImage({64, 256, 8, 16}, false);
  WriteSeed(out, "min_valid", SegInput(kSizeFromHeader, min.bytes));
  WriteSeed(out, "typical_valid", SegInput(kSizeFromHeader | kRingOps, typical.bytes));
  WriteSeed(out, "typical_valid_no_attach", SegInput(kSizeFromHeader | kNoAttach, typical.bytes));
  WriteSeed(out, "mapping_too_short", SegInput(kSizeShort, typical.bytes));
  WriteSeed(out, "mapping_longer", SegInput(kSizeLong | (3 << 5), typical.bytes));
  WriteSeed(out, "header_only_mapping", SegInput(kSizeIsImage, typical.bytes));
  std::string not_ready = min.bytes;
  std::memset(not_ready.data() + offsetof(SegmentHeader, layout_version), 0, 4);
  WriteSeed(out, "not_ready", SegInput(kSizeFromHeader, not_ready));
  std::string old_version = min.bytes;
  old_version[offsetof(SegmentHeader, layout_version)] = 1;
  WriteSeed(out, "old_layout_version", SegInput(kSizeFromHeader, old_version));
  std::string no_magic = min.bytes;
  std::memset(no_magic.data(), 0, 8);
  WriteSeed(out, "being_created", SegInput(kSizeFromHeader, no_magic));
  std::string big = MakeImage({1u << 20, 4096, 256, 1024}, false).bytes;
  WriteSeed(out, "large_layout_claim", SegInput(kSizeFromHeader | kNoAttach, big));

  if (!large) return;
  const Image whole = MakeImage({4, 16, 2, 4}, true);
  WriteSeed(out, "large_whole_segment", SegInput(kSizeIsImage | kRingOps, whole.bytes));
}

// IDENTITY files as the daemon writes them: every durability, short and longest names.
void IdentitySeeds(const std::string& out) {
  const std::string names[] = {"q", "emails.send-v2_x", std::string(63, 'n')};
  int n = 0;
  for (const std::string& name : names) {
    for (uint8_t durability = 0; durability < 3; ++durability) {
      wal::QueueIdentity id{name, 65536, 4096, durability, 1764000000000000000ULL + n};
      std::string bytes;
      wal::EncodeQueueIdentity(id, &bytes);
      WriteSeed(out, "identity_" + std::to_string(n++), bytes);
    }
  }
}

// Key files (DIR/keys) as DedupStore writes them, whole, torn and damaged.
void KeyFileSeeds(const std::string& out) {
  std::string header;
  wal::EncodeKeyFileHeader(&header);
  std::string three = header;
  std::vector<size_t> starts;
  const std::string keys[] = {"order-1", std::string(wal::kMaxKeyBytes, '~'), "!"};
  for (size_t i = 0; i < 3; ++i) {
    starts.push_back(three.size());
    wal::EncodeKeyRecord(keys[i], 1764000000000000000ULL + i, 100 + i, &three);
  }
  WriteSeed(out, "header_only", header);
  WriteSeed(out, "three_records", three);
  WriteSeed(out, "torn_header", header.substr(0, 5));
  WriteSeed(out, "torn_last_record", three.substr(0, three.size() - 1));
  WriteSeed(out, "torn_record_header", three.substr(0, starts[2] + 10));
  std::string bad_crc_last = three;
  bad_crc_last.back() ^= 0x01;
  WriteSeed(out, "bad_crc_last", bad_crc_last);
  std::string bad_crc_middle = three;
  bad_crc_middle[starts[1] + wal::kKeyRecordHeaderSize] ^= 0x01;
  WriteSeed(out, "bad_crc_middle", bad_crc_middle);
  // A key seen again after its first record expired: the later record wins.
  std::string again = three;
  wal::EncodeKeyRecord(keys[0], 1764100000000000000ULL, 200, &again);
  WriteSeed(out, "key_again", again);
  std::string other_version = three;
  other_version[7] = '2';
  WriteSeed(out, "other_version", other_version);
}

// Outcome data files (DIR/outcomes/*.out) as OutcomeStore writes them, whole, torn and
// damaged, and single records (the fuzzer decodes its input both ways).
outcome::OutcomeRecord SeedOutcome(uint64_t id, JobState state, std::string result) {
  outcome::OutcomeRecord r;
  r.job_id = id;
  for (size_t i = 0; i < outcome::kSecretBytes; ++i) r.secret[i] = static_cast<uint8_t>(i * 17);
  r.state = state;
  r.attempt = 2;
  r.max_attempts = 3;
  r.priority = 5;
  r.enqueued_unix_ns = 1764000000000000000ULL;
  r.started_unix_ns = 1764000001000000000ULL;
  r.finished_unix_ns = 1764000002000000000ULL + id;
  if (state != JobState::kCompleted) r.error = "handler failed: timeout";
  r.result = std::move(result);
  return r;
}

void OutcomeFileSeeds(const std::string& out, bool large) {
  outcome::OutcomeRecord with_meta = SeedOutcome(1, JobState::kCompleted, "{\"ok\":true}");
  with_meta.meta = EnqueueWithMeta(1, "").meta;
  const outcome::OutcomeRecord records[] = {
      with_meta, SeedOutcome(2, JobState::kRetrying, ""), SeedOutcome(3, JobState::kDead, ""),
      SeedOutcome(4, JobState::kCancelled, ""),
      SeedOutcome(2, JobState::kCompleted, std::string(300, 'r'))};
  std::string header;
  outcome::EncodeOutcomeFileHeader(&header);
  std::string file = header;
  std::vector<size_t> starts;
  for (const outcome::OutcomeRecord& r : records) {
    starts.push_back(file.size());
    outcome::EncodeOutcome(r, &file);
  }
  WriteSeed(out, "header_only", header);
  WriteSeed(out, "five_records", file);
  WriteSeed(out, "torn_header", header.substr(0, 5));
  WriteSeed(out, "torn_last_record", file.substr(0, file.size() - 7));
  WriteSeed(out, "torn_last_head", file.substr(0, starts.back() + 30));
  std::string bad_head = file;
  bad_head[starts[1] + outcome::kOutcomeFrameSize + 5] ^= 0x01;
  WriteSeed(out, "bad_head_crc_middle", bad_head);
  std::string bad_result = file;
  bad_result[file.size() - 10] ^= 0x01;
  WriteSeed(out, "bad_result_crc_last", bad_result);
  std::string other_version = file;
  other_version[7] = '2';
  WriteSeed(out, "other_version", other_version);
  std::string raw;
  outcome::EncodeOutcome(with_meta, &raw);
  WriteSeed(out, "raw_record_meta", raw);
  raw.clear();
  outcome::EncodeOutcome(records[2], &raw);
  WriteSeed(out, "raw_record_dead", raw);

  if (!large) return;
  std::string big = header;
  outcome::EncodeOutcome(SeedOutcome(9, JobState::kCompleted, std::string(100000, 'b')), &big);
  outcome::EncodeOutcome(SeedOutcome(10, JobState::kDead, ""), &big);
  WriteSeed(out, "large_result", big);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4 || (argc == 4 && std::strcmp(argv[3], "--large") != 0)) {
    std::fprintf(stderr,
                 "usage: %s wal_reader|segment_attach|queue_identity|key_file|job_meta|dead_letter|"
                 "outcome_file|amqp_message DIR [--large]\n",
                 argv[0]);
    return 2;
  }
  const std::string target = argv[1];
  const std::string out = argv[2];
  const bool large = argc == 4;
  std::filesystem::create_directories(out);
  if (target == "wal_reader") {
    WalSeeds(out, large);
  } else if (target == "segment_attach") {
    SegmentSeeds(out, large);
  } else if (target == "queue_identity") {
    IdentitySeeds(out);
  } else if (target == "key_file") {
    KeyFileSeeds(out);
  } else if (target == "job_meta") {
    JobMetaSeeds(out);
  } else if (target == "dead_letter") {
    DeadLetterSeeds(out);
  } else if (target == "outcome_file") {
    OutcomeFileSeeds(out, large);
  } else if (target == "amqp_message") {
    // Its seeds are checked in (corpus/amqp_message): made with an AMQP table encoder, which
    // this tool does not link.
  } else {
    std::fprintf(stderr, "unknown target %s\n", target.c_str());
    return 2;
  }
  return 0;
}
