// Queue hand-off: taskring's Vyukov ring in a real shared-memory segment against the in-process
// and inter-process baselines, under names that line up row by row:
//
//   BM_Queue_<Q>/threads:N       each thread pushes one value and pops one (any thread's), N=1,2,4
//   BM_QueueSplit_<Q>/threads:N  N/2 producer threads push, N/2 consumer threads pop, N=2,4
//   BM_XProc_<Q>/same_cpu:S      a fork()ed child receives 64-byte messages while the parent sends;
//                                S=0: the two processes pinned to two CPUs, S=1: to one CPU
//
// <Q> is TaskringRing (segment dispatch ring, 8-byte slot references), Moodycamel
// (moodycamel::ConcurrentQueue<uint64_t>, no tokens), MutexDeque (std::mutex +
// std::deque<uint64_t>) or BoostMQ (boost::interprocess::message_queue, 64-byte messages: it copies
// bytes, the others move one 64-bit value). items_per_second counts values handed over;
// multi-threaded rows use real (wall) time, so it is the aggregate rate of all threads. Waiting is
// the same for every queue: pause, then sched_yield (bench_common.h Backoff); BoostMQ blocks in its
// own condition variable.
#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>

#include "bench_common.h"
#include "segment/ring.h"
#include "segment/segment.h"
#include "util/futex.h"

namespace taskring::bench {
namespace {

namespace bip = boost::interprocess;

constexpr uint32_t kRingCapacity = 1024;  // slots of the bench segment = dispatch ring size
constexpr size_t kMsgBytes = 64;          // BoostMQ and cross-process message size
constexpr uint32_t kMqMaxMsgs = 1024;     // BoostMQ capacity, as the ring's

// ---------------------------------------------------------------------------------------------
// The queues, each shared by all threads of a run (function-local statics: created once per
// process, thread-safe, left empty by every run since pushes and pops balance).

struct RingQueue {
  RingQueue() : seg("ring", kRingCapacity, 64, /*fill_free_stack=*/false) {
    if (seg.ok()) ring = seg.seg->dispatch_ring(taskring::kDefaultPriority);
  }
  bool ok() const { return seg.ok(); }
  void Push(uint64_t v) {
    Backoff b;
    while (!ring.TryPush(v)) b.Pause();
  }
  uint64_t Pop() {
    Backoff b;
    uint64_t v = 0;
    while (!ring.TryPop(&v)) b.Pause();
    return v;
  }
  BenchSegment seg;
  segment::RingView ring;
};

struct MoodycamelQueue {
  bool ok() const { return true; }
  void Push(uint64_t v) { q.enqueue(v); }
  uint64_t Pop() {
    Backoff b;
    uint64_t v = 0;
    while (!q.try_dequeue(v)) b.Pause();
    return v;
  }
  moodycamel::ConcurrentQueue<uint64_t> q{kRingCapacity};
};

struct MutexDequeQueue {
  bool ok() const { return true; }
  void Push(uint64_t v) {
    std::lock_guard<std::mutex> l(mu);
    q.push_back(v);
  }
  uint64_t Pop() {
    Backoff b;
    for (;;) {
      {
        std::lock_guard<std::mutex> l(mu);
        if (!q.empty()) {
          const uint64_t v = q.front();
          q.pop_front();
          return v;
        }
      }
      b.Pause();
    }
  }
  std::mutex mu;
  std::deque<uint64_t> q;
};

struct BoostMqQueue {
  BoostMqQueue() : name(UniqueQueueName("mq")) {
    try {
      bip::message_queue::remove(name.c_str());
      mq = std::make_unique<bip::message_queue>(bip::create_only, name.c_str(), kMqMaxMsgs,
                                                kMsgBytes);
    } catch (const bip::interprocess_exception& e) {
      error = e.what();
    }
  }
  ~BoostMqQueue() {
    mq.reset();
    bip::message_queue::remove(name.c_str());
  }
  bool ok() const { return mq != nullptr; }
  void Push(uint64_t v) {
    char msg[kMsgBytes] = {};
    std::memcpy(msg, &v, sizeof(v));
    mq->send(msg, sizeof(msg), 0);
  }
  uint64_t Pop() {
    char msg[kMsgBytes];
    bip::message_queue::size_type got = 0;
    unsigned int prio = 0;
    mq->receive(msg, sizeof(msg), got, prio);
    uint64_t v = 0;
    std::memcpy(&v, msg, sizeof(v));
    return v;
  }
  std::string name;
  std::string error;
  std::unique_ptr<bip::message_queue> mq;
};

template <typename Q>
Q& Shared() {
  static Q q;
  return q;
}

// Each thread: push one value, pop one (possibly another thread's). Never blocks for good: a
// thread pops only after its own push, so the queue holds at least one value per popping thread.
template <typename Q>
void BM_Queue(benchmark::State& state) {
  Q& q = Shared<Q>();
  if (!q.ok()) state.SkipWithError("cannot create the queue");
  uint64_t v = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) {
    q.Push(v++);
    benchmark::DoNotOptimize(q.Pop());
  }
  state.SetItemsProcessed(state.iterations());
}

// Even thread indices produce, odd ones consume; each thread runs the same iteration count, so
// pushes and pops balance. Only consumers count items: items/s is the delivered rate.
template <typename Q>
void BM_QueueSplit(benchmark::State& state) {
  Q& q = Shared<Q>();
  if (!q.ok()) state.SkipWithError("cannot create the queue");
  const bool producer = state.thread_index() % 2 == 0;
  uint64_t v = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) {
    if (producer) {
      q.Push(v++);
    } else {
      benchmark::DoNotOptimize(q.Pop());
    }
  }
  if (!producer) state.SetItemsProcessed(state.iterations());
}

#define TASKRING_QUEUE_BENCH(Name, Q)                                             \
  void BM_Queue_##Name(benchmark::State& state) { BM_Queue<Q>(state); }           \
  void BM_QueueSplit_##Name(benchmark::State& state) { BM_QueueSplit<Q>(state); } \
  BENCHMARK(BM_Queue_##Name)->Apply([](benchmark::internal::Benchmark* b) {       \
    Short(b->Threads(1)->Threads(2)->Threads(4)->UseRealTime());                  \
  });                                                                             \
  BENCHMARK(BM_QueueSplit_##Name)->Apply([](benchmark::internal::Benchmark* b) {  \
    Short(b->Threads(2)->Threads(4)->UseRealTime());                              \
  });

TASKRING_QUEUE_BENCH(TaskringRing, RingQueue)
TASKRING_QUEUE_BENCH(Moodycamel, MoodycamelQueue)
TASKRING_QUEUE_BENCH(MutexDeque, MutexDequeQueue)
TASKRING_QUEUE_BENCH(BoostMQ, BoostMqQueue)

// ---------------------------------------------------------------------------------------------
// Across processes. One iteration = kBatch 64-byte messages from the parent to a fork()ed child,
// timed from the first send until the child reports it has received the last one (manual time).
// The child is forked once per run, outside the timing.

constexpr uint64_t kBatch = 4096;
constexpr uint64_t kStop = ~uint64_t{0};
constexpr uint64_t kWaitSliceNs = 100'000'000;  // re-check the peer is alive this often
constexpr int kSpins = 2000;                    // taskring's default spin_iterations

using Clock = std::chrono::steady_clock;

bool ChildGone(pid_t pid) {
  int st = 0;
  return ::waitpid(pid, &st, WNOHANG) == pid;
}

void ReapChild(pid_t pid, benchmark::State& state) {
  int st = 0;
  if (::waitpid(pid, &st, 0) == pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
      !state.error_occurred()) {
    state.SkipWithError("child process failed");
  }
}

// Shared between parent and child: the child's delivered count, with a futex to sleep on.
struct XprocControl {
  std::atomic<uint64_t> received{0};
  std::atomic<uint32_t> futex{0};
  std::atomic<uint32_t> sleepers{0};
};

// Taskring's ring, raw: the parent takes a free slot from a return ring, writes the 64-byte
// message into the slot's payload, pushes the slot reference to the dispatch ring and wakes a
// sleeping consumer (only if one sleeps). The child (attached by name, like a worker) pops it,
// reads the 64 bytes and returns the slot through the return ring (the dispatch ring of a second
// segment: two MPMC rings, as in a queue without a daemon). Both wait spin-then-futex
// (SpinThenWait, 2000 spins).
[[noreturn]] void RingChild(const std::string& queue, const std::string& return_queue,
                            XprocControl* ctl, pid_t parent) {
  std::unique_ptr<segment::Segment> seg, ret;
  if (!segment::Segment::Attach(queue, /*read_only=*/false, &seg).ok()) ::_exit(2);
  if (!segment::Segment::Attach(return_queue, /*read_only=*/false, &ret).ok()) ::_exit(2);
  segment::RingView free = ret->dispatch_ring(taskring::kDefaultPriority);
  segment::RingView dispatch = seg->dispatch_ring(taskring::kDefaultPriority);
  uint64_t n = 0;
  uint64_t sum = 0;
  for (;;) {
    uint64_t ref = 0;
    auto take = [&] { return dispatch.TryPop(&ref); };
    if (!take()) {
      while (!util::SpinThenWait(&dispatch.header()->futex, &dispatch.header()->sleepers, kSpins,
                                 kWaitSliceNs, take)) {
        if (::getppid() != parent) ::_exit(3);
      }
    }
    if (ref == kStop) break;
    const uint32_t slot = segment::RefSlot(ref);
    if (!seg->ValidSlot(slot)) ::_exit(4);
    char msg[kMsgBytes];
    std::memcpy(msg, seg->payload(slot), kMsgBytes);
    uint64_t seq = 0;
    std::memcpy(&seq, msg, sizeof(seq));
    sum += seq;
    Backoff b;
    while (!free.TryPush(ref)) b.Pause();
    util::WakeIfSleepers(&free.header()->futex, &free.header()->sleepers, 1);
    if (++n % kBatch == 0) {
      ctl->received.store(n, std::memory_order_seq_cst);
      util::WakeIfSleepers(&ctl->futex, &ctl->sleepers, 1);
    }
  }
  benchmark::DoNotOptimize(sum);
  ::_exit(0);
}

// Parent and child are pinned: same_cpu:0 on two different CPUs (a producer and a worker on
// their own cores), same_cpu:1 both on one CPU (more processes than cores). Left to the
// scheduler, a run lands in one mode or the other and the result flips by 10x.
struct XprocCpus {
  explicit XprocCpus(benchmark::State& state) {
    int first = -1, second = -1;
    TwoCpus(&first, &second);
    parent = first;
    child = state.range(0) != 0 ? first : second;
  }
  bool ok() const { return parent >= 0 && child >= 0; }
  int parent = -1;
  int child = -1;
};

void BM_XProc_TaskringRing(benchmark::State& state) {
  const XprocCpus cpus(state);
  if (!cpus.ok()) {
    state.SkipWithError("needs two CPUs");
    for (auto _ : state) {
    }
    return;
  }
  ScopedPin pin(cpus.parent);
  BenchSegment bs("xproc", kRingCapacity, kMsgBytes, /*fill_free_stack=*/false);
  BenchSegment returns("xproc_ret", kRingCapacity, 8, /*fill_free_stack=*/false);
  void* mem = ::mmap(nullptr, sizeof(XprocControl), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  bool filled = bs.ok() && returns.ok();
  for (uint32_t s = 0; filled && s < kRingCapacity; ++s) {
    filled =
        returns.seg->dispatch_ring(taskring::kDefaultPriority).TryPush(segment::PackSlotRef(s, 1));
  }
  if (!filled || mem == MAP_FAILED) {
    state.SkipWithError("cannot create the segment or control page");
    for (auto _ : state) {
    }
    if (mem != MAP_FAILED) ::munmap(mem, sizeof(XprocControl));
    return;
  }
  auto* ctl = new (mem) XprocControl;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    PinTo(cpus.child);
    RingChild(bs.queue, returns.queue, ctl, parent);
  }
  if (pid < 0) state.SkipWithError("fork failed");

  segment::Segment& seg = *bs.seg;
  segment::RingView free = returns.seg->dispatch_ring(taskring::kDefaultPriority);
  segment::RingView dispatch = seg.dispatch_ring(taskring::kDefaultPriority);
  uint64_t sent = 0;
  char msg[kMsgBytes] = {};
  bool gone = false;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < kBatch && !gone; ++i) {
      uint64_t ref = 0;
      auto take = [&] { return free.TryPop(&ref); };
      if (!take()) {
        while (!gone && !util::SpinThenWait(&free.header()->futex, &free.header()->sleepers, kSpins,
                                            kWaitSliceNs, take)) {
          gone = ChildGone(pid);
        }
        if (gone) break;
      }
      ++sent;
      std::memcpy(msg, &sent, sizeof(sent));
      std::memcpy(seg.payload(segment::RefSlot(ref)), msg, kMsgBytes);
      Backoff b;
      while (!dispatch.TryPush(ref)) b.Pause();
      util::WakeIfSleepers(&dispatch.header()->futex, &dispatch.header()->sleepers, 1);
    }
    auto done = [&] { return ctl->received.load(std::memory_order_seq_cst) >= sent; };
    while (!done() && !gone) {
      if (!util::SpinThenWait(&ctl->futex, &ctl->sleepers, kSpins, kWaitSliceNs, done)) {
        gone = ChildGone(pid);
      }
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
    if (gone) {
      state.SkipWithError("child process died");
      break;
    }
  }
  if (pid > 0 && !gone) {
    Backoff b;
    while (!dispatch.TryPush(kStop)) b.Pause();  // room: at most capacity refs are in flight
    util::WakeIfSleepers(&dispatch.header()->futex, &dispatch.header()->sleepers, 1);
    ReapChild(pid, state);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBatch));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBatch * kMsgBytes));
  ctl->~XprocControl();
  ::munmap(mem, sizeof(XprocControl));
}
BENCHMARK(BM_XProc_TaskringRing)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("same_cpu")->Arg(0)->Arg(1)->UseManualTime());
});

// Boost.Interprocess message_queue: the parent sends 64-byte messages (blocking when the
// 1024-message queue is full), the child receives them and sends an 8-byte ack on a second queue
// after each batch.
boost::posix_time::ptime DeadlineIn(int ms) {
  return boost::posix_time::microsec_clock::universal_time() + boost::posix_time::milliseconds(ms);
}

[[noreturn]] void MqChild(const std::string& data_name, const std::string& ack_name, pid_t parent) {
  try {
    bip::message_queue data(bip::open_only, data_name.c_str());
    bip::message_queue ack(bip::open_only, ack_name.c_str());
    uint64_t n = 0;
    uint64_t sum = 0;
    // The deadline only matters when the queue is empty; it is refreshed on timeout rather than
    // computed per message (a clock read per message would bias the row).
    boost::posix_time::ptime deadline = DeadlineIn(100);
    for (;;) {
      char msg[kMsgBytes];
      bip::message_queue::size_type got = 0;
      unsigned int prio = 0;
      while (!data.timed_receive(msg, sizeof(msg), got, prio, deadline)) {
        if (::getppid() != parent) ::_exit(3);
        deadline = DeadlineIn(100);
      }
      uint64_t seq = 0;
      std::memcpy(&seq, msg, sizeof(seq));
      if (seq == kStop) break;
      sum += seq;
      if (++n % kBatch == 0) ack.send(&n, sizeof(n), 0);
    }
    benchmark::DoNotOptimize(sum);
  } catch (const bip::interprocess_exception&) {
    ::_exit(2);
  }
  ::_exit(0);
}

void BM_XProc_BoostMQ(benchmark::State& state) {
  const XprocCpus cpus(state);
  if (!cpus.ok()) {
    state.SkipWithError("needs two CPUs");
    for (auto _ : state) {
    }
    return;
  }
  ScopedPin pin(cpus.parent);
  const std::string data_name = UniqueQueueName("xmq_data");
  const std::string ack_name = UniqueQueueName("xmq_ack");
  std::unique_ptr<bip::message_queue> data, ack;
  try {
    bip::message_queue::remove(data_name.c_str());
    bip::message_queue::remove(ack_name.c_str());
    data = std::make_unique<bip::message_queue>(bip::create_only, data_name.c_str(), kMqMaxMsgs,
                                                kMsgBytes);
    ack = std::make_unique<bip::message_queue>(bip::create_only, ack_name.c_str(), 4,
                                               sizeof(uint64_t));
  } catch (const bip::interprocess_exception& e) {
    state.SkipWithError(e.what());
    for (auto _ : state) {
    }
    bip::message_queue::remove(data_name.c_str());
    bip::message_queue::remove(ack_name.c_str());
    return;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    PinTo(cpus.child);
    MqChild(data_name, ack_name, parent);
  }
  if (pid < 0) state.SkipWithError("fork failed");

  uint64_t sent = 0;
  char msg[kMsgBytes] = {};
  for (auto _ : state) {
    const auto t0 = Clock::now();
    bool gone = false;
    // Used only when the queue is full (a dead child must not hang the parent); refreshed on
    // timeout, not per message.
    boost::posix_time::ptime deadline = DeadlineIn(100);
    for (uint64_t i = 0; i < kBatch && !gone; ++i) {
      ++sent;
      std::memcpy(msg, &sent, sizeof(sent));
      while (!data->timed_send(msg, sizeof(msg), 0, deadline)) {
        if ((gone = ChildGone(pid))) break;
        deadline = DeadlineIn(100);
      }
    }
    uint64_t acked = 0;
    bip::message_queue::size_type got = 0;
    unsigned int prio = 0;
    while (!gone && !ack->timed_receive(&acked, sizeof(acked), got, prio, DeadlineIn(100))) {
      gone = ChildGone(pid);
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
    if (gone) {
      state.SkipWithError("child process died");
      break;
    }
  }
  if (pid > 0) {
    std::memcpy(msg, &kStop, sizeof(kStop));
    while (!data->timed_send(msg, sizeof(msg), 0, DeadlineIn(100))) {
      if (ChildGone(pid)) break;
    }
    ReapChild(pid, state);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBatch));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBatch * kMsgBytes));
  data.reset();
  ack.reset();
  bip::message_queue::remove(data_name.c_str());
  bip::message_queue::remove(ack_name.c_str());
}
BENCHMARK(BM_XProc_BoostMQ)->Apply([](benchmark::internal::Benchmark* b) {
  Short(b->ArgName("same_cpu")->Arg(0)->Arg(1)->UseManualTime());
});

}  // namespace
}  // namespace taskring::bench
