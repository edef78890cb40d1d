// One pusher (as the daemon) and several poppers (as producers) share a small free stack, so it
// runs full and empty and tops repeat: every value comes out exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "segment/free_stack.h"

namespace taskring::segment {
namespace {

TEST(FreeStackStressTest, OnePusherAndManyPoppersSeeEveryValueOnce) {
  constexpr uint32_t kCapacity = 32;
  constexpr int kPoppers = 3;
  constexpr uint64_t kValues = 150000;
  struct alignas(64) Line {
    char b[64];
  };
  std::vector<Line> memory((FreeStackBytes(kCapacity) + 63) / 64);
  auto* base = reinterpret_cast<char*>(memory.data());
  FreeStackView stack(reinterpret_cast<FreeStackHeader*>(base),
                      reinterpret_cast<std::atomic<uint64_t>*>(base + sizeof(FreeStackHeader)),
                      kCapacity);
  stack.Init();

  std::vector<std::atomic<uint8_t>> seen(kValues);
  std::atomic<uint64_t> popped{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (uint64_t v = 0; v < kValues; ++v) {
      while (!stack.Push(v)) std::this_thread::yield();
    }
  });
  for (int p = 0; p < kPoppers; ++p) {
    threads.emplace_back([&] {
      std::atomic<uint64_t> intent{0};
      uint64_t v = 0;
      while (popped.load() < kValues) {
        if (stack.Pop(&intent, &v)) {
          ASSERT_LT(v, kValues);
          EXPECT_EQ(intent.load(), v);
          seen[v].fetch_add(1);
          popped.fetch_add(1);
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
  EXPECT_EQ(stack.SizeApprox(), 0u);
}

}  // namespace
}  // namespace taskring::segment
