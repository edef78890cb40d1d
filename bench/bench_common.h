// Helpers shared by the bench/*_bench.cc binaries: run settings, a real shared-memory segment
// for the ring and admission benchmarks, and a polite spin-wait.
#ifndef TASKRING_BENCH_BENCH_COMMON_H_
#define TASKRING_BENCH_BENCH_COMMON_H_

#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "segment/segment.h"

namespace taskring::bench {

// Built-in run settings: 0.2 s per run, 3 repetitions, only mean/median/stddev/cv reported.
// In Google Benchmark 1.7.1 settings made in code win over --benchmark_min_time and
// --benchmark_repetitions, so TASKRING_BENCH_USE_FLAGS=1 drops them and lets the command line
// decide (e.g. a quick smoke run with --benchmark_min_time=0.05).
inline benchmark::internal::Benchmark* Short(benchmark::internal::Benchmark* b) {
  static const bool use_flags = std::getenv("TASKRING_BENCH_USE_FLAGS") != nullptr;
  if (use_flags) return b;
  return b->MinTime(0.2)->Repetitions(3)->ReportAggregatesOnly(true);
}

// Spin-wait step for loops that wait on another thread: pause for a while, then yield, so a
// waiter on a 2-core machine does not burn the time slice of the thread it waits for.
class Backoff {
 public:
  void Pause() {
    if (++n_ < 64) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else {
      n_ = 0;
      ::sched_yield();
    }
  }

 private:
  int n_ = 0;
};

// The first two CPUs this process may run on (-1 when there is only one). Benchmarks whose
// result depends on whether two parties share a core pin them explicitly, so the numbers do not
// flip with the scheduler's placement from run to run.
inline void TwoCpus(int* first, int* second) {
  cpu_set_t set;
  CPU_ZERO(&set);
  *first = *second = -1;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &set)) continue;
    if (*first < 0) {
      *first = c;
    } else {
      *second = c;
      return;
    }
  }
}

// Pins the calling thread to one CPU for its lifetime, then restores the previous mask.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu) {
    CPU_ZERO(&old_);
    if (cpu < 0 || ::sched_getaffinity(0, sizeof(old_), &old_) != 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ok_ = ::sched_setaffinity(0, sizeof(set), &set) == 0;
  }
  ~ScopedPin() {
    if (ok_) ::sched_setaffinity(0, sizeof(old_), &old_);
  }
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;
  bool ok() const { return ok_; }

 private:
  cpu_set_t old_;
  bool ok_ = false;
};

// Pins the calling thread (e.g. a fork()ed child or a partner thread) for good.
inline bool PinTo(int cpu) {
  if (cpu < 0) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof(set), &set) == 0;
}

// A queue name unique to this process and call, so concurrent runs never share a segment.
inline std::string UniqueQueueName(const char* what) {
  static std::atomic<uint32_t> seq{0};
  return std::string("bench_") + what + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(seq.fetch_add(1));
}

// A real segment in /dev/shm (Segment::Create, as the daemon makes it), removed on destruction.
// `fill_free_stack` pushes every slot (generation 1) into the free stack, as the daemon does
// after recovery; otherwise the free stack is empty (a full queue).
struct BenchSegment {
  BenchSegment(const char* what, uint32_t capacity, uint32_t max_payload, bool fill_free_stack)
      : queue(UniqueQueueName(what)) {
    segment::CreateOptions opts;
    opts.params = segment::Params{capacity, max_payload, 8, 64};
    status = segment::Segment::Create(queue, opts, &seg);
    if (!status.ok()) return;
    if (fill_free_stack) {
      segment::FreeStackView free = seg->free_stack();
      for (uint32_t s = capacity; s-- > 0;) {
        if (!free.Push(segment::PackSlotRef(s, 1))) {
          status = Status::Corruption("free stack smaller than capacity");
          return;
        }
      }
    }
    seg->header()->daemon_state.store(static_cast<uint32_t>(segment::DaemonState::kRunning));
    seg->Publish();
  }
  ~BenchSegment() {
    seg.reset();
    segment::Segment::Remove(queue);
  }
  BenchSegment(const BenchSegment&) = delete;
  BenchSegment& operator=(const BenchSegment&) = delete;

  bool ok() const { return status.ok(); }

  std::string queue;
  Status status;
  std::unique_ptr<segment::Segment> seg;
};

}  // namespace taskring::bench

#endif  // TASKRING_BENCH_BENCH_COMMON_H_
