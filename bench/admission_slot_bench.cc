// Admission through admission::TryAcquireSlot on a real shared-memory segment (no producer,
// no daemon): the two answers a producer can get before it writes a payload.
//
//   BM_Admission_AcquireRelease/threads:N  a free slot is taken (free-ring pop + slot-word CAS
//       FREE -> WRITING(me)) and given back the way the daemon frees one (slot word -> FREE with
//       generation + 1, reference pushed back to the free ring). One item = acquire + release.
//   BM_Admission_Busy/threads:N  the free ring is empty (a full queue): the BUSY answer, which
//       must be a couple of loads and change nothing.
#include <benchmark/benchmark.h>

#include "admission/admission.h"
#include "bench_common.h"

namespace taskring::bench {
namespace {

constexpr uint32_t kCapacity = 1024;

BenchSegment& FullFreeRing() {
  static BenchSegment s("adm_free", kCapacity, 64, /*fill_free_ring=*/true);
  return s;
}

BenchSegment& EmptyFreeRing() {
  static BenchSegment s("adm_busy", kCapacity, 64, /*fill_free_ring=*/false);
  return s;
}

void BM_Admission_AcquireRelease(benchmark::State& state) {
  BenchSegment& bs = FullFreeRing();
  if (!bs.ok()) state.SkipWithError("cannot create the segment");
  const segment::Segment& seg = *bs.seg;
  const segment::RingView free = seg.free_ring();
  const uint32_t client = static_cast<uint32_t>(state.thread_index());
  uint64_t spurious_busy = 0;
  for (auto _ : state) {
    uint32_t slot = 0, gen = 0;
    // At most 4 of the 1024 slots are ever out, yet a BUSY can still come back: when another
    // bench thread is preempted between moving the ring's tail and publishing its cell, every
    // pop stops at that cell until it runs again (the Vyukov ring is not lock-free towards a
    // stalled pusher). In taskringd only the engine thread pushes the free ring, so a stalled
    // push there hides just the one slot being pushed; here it is retried and counted.
    Backoff wait;
    while (!admission::TryAcquireSlot(seg, client, &slot, &gen)) {
      ++spurious_busy;
      wait.Pause();
    }
    // Release as the daemon does (SlotHandoff::FreeSlot): bump the generation, mark FREE, push the
    // reference.
    seg.slot(slot)->word.store(
        segment::PackSlotWord(gen + 1, segment::kNoClient, segment::SlotState::kFree),
        std::memory_order_release);
    segment::RingView ring = free;
    Backoff b;
    while (!ring.TryPush(segment::PackSlotRef(slot, gen + 1))) b.Pause();
  }
  state.counters["spurious_busy"] = static_cast<double>(spurious_busy);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Admission_AcquireRelease)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->Threads(1)->Threads(2)->Threads(4)->UseRealTime());
});

void BM_Admission_Busy(benchmark::State& state) {
  BenchSegment& bs = EmptyFreeRing();
  if (!bs.ok()) state.SkipWithError("cannot create the segment");
  const segment::Segment& seg = *bs.seg;
  const uint32_t client = static_cast<uint32_t>(state.thread_index());
  uint64_t accepted = 0;
  for (auto _ : state) {
    uint32_t slot = 0, gen = 0;
    const bool ok = admission::TryAcquireSlot(seg, client, &slot, &gen);
    benchmark::DoNotOptimize(ok);
    accepted += ok;
  }
  if (accepted != 0) state.SkipWithError("expected every acquire to be BUSY");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Admission_Busy)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->Threads(1)->Threads(2)->UseRealTime());
});

}  // namespace
}  // namespace taskring::bench
