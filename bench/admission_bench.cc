// A first look at the hot path inside one process: one ring hand-off, the ring in a
// std::vector (no segment). Admission itself, BUSY answer included, is measured on a real
// segment in admission_slot_bench (BM_Admission_*) and through the public API in
// producer_bench (BM_EnqueueBusy).
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

}  // namespace
}  // namespace taskring::segment
