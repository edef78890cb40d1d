// Sleeping and waking (src/util/futex.h), the cost a consumer pays when the ring is empty.
//
//   BM_PingPong_TaskringSpinThenWait/spins:S  two threads hand a token back and forth with the
//       code's own discipline: publish, WakeIfSleepers; wait with SpinThenWait(S spins, then
//       futex). spins:0 is a pure wake + sleep round trip (2 wakes, 2 sleeps, 2 context switches
//       per item); spins:2000 is taskring's default spin_iterations. One item = one round trip.
//   BM_PingPong_StdCondVar  the same round trip with std::mutex + std::condition_variable.
//   Both ping-pongs pin their two threads to two different CPUs.
//   BM_WakeNoSleeper_TaskringWakeIfSleepers  waking when nobody sleeps: one seq_cst RMW on the
//       sleepers count, no system call.
//   BM_WakeNoSleeper_RawFutexWake  util::FutexWake itself, which always enters the kernel: what
//       WakeIfSleepers saves.
//   BM_WakeNoSleeper_StdCondVarNotify  notify_one with no waiter (glibc skips the syscall too).
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bench_common.h"
#include "util/futex.h"

namespace taskring::bench {
namespace {

// Wait until *value != seen, spin-then-futex on (futex, sleepers). Returns the new value.
uint32_t AwaitChange(const std::atomic<uint32_t>& value, uint32_t seen,
                     std::atomic<uint32_t>* futex, std::atomic<uint32_t>* sleepers, int spins) {
  auto changed = [&] { return value.load(std::memory_order_seq_cst) != seen; };
  while (!util::SpinThenWait(futex, sleepers, spins, 0, changed)) {
  }
  return value.load(std::memory_order_seq_cst);
}

// The two threads of a ping-pong run on two different CPUs (pinned: on a 2-CPU machine the
// scheduler sometimes stacks them on one, and a spinning waiter then burns the time slice of the
// thread it waits for). Returns false when there are not two CPUs.
bool PingPongCpus(benchmark::State& state, int* main_cpu, int* partner_cpu) {
  TwoCpus(main_cpu, partner_cpu);
  if (*partner_cpu >= 0) return true;
  state.SkipWithError("needs two CPUs");
  for (auto _ : state) {
  }
  return false;
}

void BM_PingPong_TaskringSpinThenWait(benchmark::State& state) {
  int main_cpu = -1, partner_cpu = -1;
  if (!PingPongCpus(state, &main_cpu, &partner_cpu)) return;
  ScopedPin pin(main_cpu);
  const int spins = static_cast<int>(state.range(0));
  // The token: odd = the partner's turn, even = ours. Each side sleeps on its own futex word.
  std::atomic<uint32_t> token{0};
  std::atomic<bool> stop{false};
  struct alignas(64) Side {
    std::atomic<uint32_t> futex{0};
    std::atomic<uint32_t> sleepers{0};
  };
  Side main_side, partner_side;
  std::thread partner([&] {
    PinTo(partner_cpu);
    uint32_t seen = 0;
    for (;;) {
      seen = AwaitChange(token, seen, &partner_side.futex, &partner_side.sleepers, spins);
      if (stop.load(std::memory_order_seq_cst)) return;
      token.store(++seen, std::memory_order_seq_cst);
      util::WakeIfSleepers(&main_side.futex, &main_side.sleepers, 1);
    }
  });
  uint32_t t = 0;
  for (auto _ : state) {
    token.store(++t, std::memory_order_seq_cst);
    util::WakeIfSleepers(&partner_side.futex, &partner_side.sleepers, 1);
    t = AwaitChange(token, t, &main_side.futex, &main_side.sleepers, spins);
  }
  stop.store(true, std::memory_order_seq_cst);
  token.store(++t, std::memory_order_seq_cst);
  util::WakeIfSleepers(&partner_side.futex, &partner_side.sleepers, 1);
  partner.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PingPong_TaskringSpinThenWait)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("spins")->Arg(0)->Arg(2000)->UseRealTime());
});

void BM_PingPong_StdCondVar(benchmark::State& state) {
  int main_cpu = -1, partner_cpu = -1;
  if (!PingPongCpus(state, &main_cpu, &partner_cpu)) return;
  ScopedPin pin(main_cpu);
  std::mutex mu;
  std::condition_variable to_partner, to_main;
  uint32_t token = 0;  // odd = the partner's turn
  bool stop = false;
  std::thread partner([&] {
    PinTo(partner_cpu);
    std::unique_lock<std::mutex> l(mu);
    for (;;) {
      to_partner.wait(l, [&] { return stop || token % 2 == 1; });
      if (stop) return;
      ++token;
      to_main.notify_one();
    }
  });
  {
    std::unique_lock<std::mutex> l(mu);
    for (auto _ : state) {
      ++token;
      to_partner.notify_one();
      to_main.wait(l, [&] { return token % 2 == 0; });
    }
    stop = true;
  }
  to_partner.notify_one();
  partner.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PingPong_StdCondVar)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->UseRealTime());
});

void BM_WakeNoSleeper_TaskringWakeIfSleepers(benchmark::State& state) {
  std::atomic<uint32_t> futex{0};
  std::atomic<uint32_t> sleepers{0};
  for (auto _ : state) {
    util::WakeIfSleepers(&futex, &sleepers, 1);
  }
  if (futex.load() != 0) state.SkipWithError("a wake was issued with no sleeper");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WakeNoSleeper_TaskringWakeIfSleepers)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b);
});

void BM_WakeNoSleeper_RawFutexWake(benchmark::State& state) {
  std::atomic<uint32_t> futex{0};
  for (auto _ : state) {
    util::FutexWake(&futex, 1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WakeNoSleeper_RawFutexWake)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b);
});

void BM_WakeNoSleeper_StdCondVarNotify(benchmark::State& state) {
  std::condition_variable cv;
  for (auto _ : state) {
    cv.notify_one();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WakeNoSleeper_StdCondVarNotify)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b);
});

}  // namespace
}  // namespace taskring::bench
