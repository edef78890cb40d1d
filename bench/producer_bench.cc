// Producer::Enqueue answering BUSY through the public API: the cost a caller pays to learn the
// queue is full. The segment is created in-process with an empty free ring (a full queue) and
// a live "daemon" identity (this process), so no daemon is needed.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include "segment/segment.h"
#include "taskring/producer.h"

namespace taskring {
namespace {

void BM_EnqueueBusy(benchmark::State& state) {
  const std::string queue = "bench_busy_" + std::to_string(::getpid());
  segment::CreateOptions opts;
  opts.params = segment::Params{1024, 64, 8, 64};
  std::unique_ptr<segment::Segment> seg;
  if (!segment::Segment::Create(queue, opts, &seg).ok()) {
    state.SkipWithError("cannot create segment");
    return;
  }
  segment::SegmentHeader* h = seg->header();
  h->daemon_state.store(static_cast<uint32_t>(segment::DaemonState::kRunning));
  // Create locked the daemon-life mutex: this process plays the live daemon.
  if (!seg->Install().ok()) {
    state.SkipWithError("cannot install segment");
    return;
  }
  seg->Publish();
  ProducerOptions po;
  po.queue = queue;
  std::unique_ptr<Producer> producer;
  if (!Producer::Open(po, &producer).ok()) {
    state.SkipWithError("cannot open producer");
    segment::Segment::Remove(queue);
    return;
  }
  uint64_t id = 0;
  uint64_t busy = 0;
  for (auto _ : state) {
    busy += producer->Enqueue("0123456789abcdef0123456789abcdef", &id).IsBusy();
  }
  if (busy != static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("expected every enqueue to be BUSY");
  state.SetItemsProcessed(state.iterations());
  producer.reset();
  seg->ReleaseDaemonLife();
  segment::Segment::Remove(queue);
}
BENCHMARK(BM_EnqueueBusy);

}  // namespace
}  // namespace taskring
