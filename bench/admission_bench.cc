// A first look at the hot path inside one process: ring hand-off and the BUSY answer.
// Scenarios: ring push+pop (one thread), admission BUSY on a full queue (free ring empty).
#include <benchmark/benchmark.h>

#include <vector>

#include "segment/ring.h"

namespace taskring::segment {
namespace {

struct RingFixture {
  explicit RingFixture(uint32_t capacity) : memory((RingBytes(capacity) + 63) / 64) {
    auto* base = reinterpret_cast<char*>(memory.data());
    ring = RingView(reinterpret_cast<RingHeader*>(base),
                    reinterpret_cast<RingCell*>(base + sizeof(RingHeader)), capacity);
    ring.Init();
  }
  struct alignas(64) Line {
    char b[64];
  };
  std::vector<Line> memory;
  RingView ring;
};

// One push and one pop of a slot reference: the cost of a hand-off without contention.
void BM_RingPushPop(benchmark::State& state) {
  RingFixture f(1024);
  uint64_t v = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.ring.TryPush(v++));
    benchmark::DoNotOptimize(f.ring.TryPop(&v));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingPushPop);

// Admission on a full queue: the free ring is empty, so the answer is BUSY.
void BM_AdmissionBusy(benchmark::State& state) {
  RingFixture f(1024);
  uint64_t v = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.ring.TryPopClaim(&v, [](uint64_t) {}));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdmissionBusy);

}  // namespace
}  // namespace taskring::segment
