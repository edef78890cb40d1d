// Admission through admission::TryAcquireSlot on a real shared-memory segment (no producer,
// no daemon): the two answers a producer can get before it writes a payload.
//
//   BM_Admission_AcquireRelease/threads:N  a free slot is taken (free-stack pop + slot-word CAS
//       FREE -> WRITING(me)) and given back the way the daemon frees one (slot word -> FREE with
//       generation + 1, reference pushed back to the free stack; pushes are serialised, as the
//       stack has one pusher, the daemon). One item = acquire + release.
//   BM_Admission_Busy/threads:N  the free stack is empty (a full queue): the BUSY answer, which
//       must be a couple of loads and change nothing.
#include <benchmark/benchmark.h>

#include <mutex>

#include "admission/admission.h"
#include "bench_common.h"

namespace taskring::bench {
namespace {

constexpr uint32_t kCapacity = 1024;

BenchSegment& FullFreeStack() {
  static BenchSegment s("adm_free", kCapacity, 64, /*fill_free_stack=*/true);
  return s;
}

BenchSegment& EmptyFreeStack() {
  static BenchSegment s("adm_busy", kCapacity, 64, /*fill_free_stack=*/false);
  return s;
}

std::mutex& PushMutex() {
  static std::mutex mu;
  return mu;
}

void BM_Admission_AcquireRelease(benchmark::State& state) {
  BenchSegment& bs = FullFreeStack();
  if (!bs.ok()) state.SkipWithError("cannot create the segment");
  const segment::Segment& seg = *bs.seg;
  const segment::FreeStackView free = seg.free_stack();
  const uint32_t client = static_cast<uint32_t>(state.thread_index());
  uint64_t spurious_busy = 0;
  for (auto _ : state) {
    uint32_t slot = 0, gen = 0;
    // At most 4 of the 1024 slots are ever out, so a BUSY here would be a bug: counted.
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
    segment::FreeStackView stack = free;
    std::lock_guard<std::mutex> one_pusher(PushMutex());
    if (!stack.Push(segment::PackSlotRef(slot, gen + 1))) state.SkipWithError("stack full");
  }
  state.counters["spurious_busy"] = static_cast<double>(spurious_busy);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Admission_AcquireRelease)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->Threads(1)->Threads(2)->Threads(4)->UseRealTime());
});

void BM_Admission_Busy(benchmark::State& state) {
  BenchSegment& bs = EmptyFreeStack();
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
