// Many threads push and pop the same ring: every value comes out exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "segment/ring.h"

namespace taskring::segment {
namespace {

TEST(RingStressTest, ConcurrentProducersAndConsumersSeeEveryValueOnce) {
  constexpr uint32_t kCapacity = 256;
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr uint64_t kPerProducer = 50000;
  struct alignas(64) Line {
    char b[64];
  };
  std::vector<Line> memory((RingBytes(kCapacity) + 63) / 64);
  auto* base = reinterpret_cast<char*>(memory.data());
  RingView ring(reinterpret_cast<RingHeader*>(base),
                reinterpret_cast<RingCell*>(base + sizeof(RingHeader)), kCapacity);
  ring.Init();

  std::vector<std::atomic<uint8_t>> seen(kProducers * kPerProducer);
  std::atomic<uint64_t> consumed{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        const uint64_t v = p * kPerProducer + i;
        while (!ring.TryPush(v)) std::this_thread::yield();
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      uint64_t v = 0;
      while (consumed.load() < kProducers * kPerProducer) {
        if (ring.TryPop(&v)) {
          seen[v].fetch_add(1);
          consumed.fetch_add(1);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  uint64_t missing = 0, duplicated = 0;
  for (auto& s : seen) {
    missing += s.load() == 0;
    duplicated += s.load() > 1;
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(ring.SizeApprox(), 0u);
}

}  // namespace
}  // namespace taskring::segment
