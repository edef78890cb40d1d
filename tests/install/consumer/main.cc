// Uses the public API only; with no daemon running it must report NotFound, not crash.
#include <taskring/producer.h>
#include <taskring/worker.h>

#include <cstdio>

// The consumer's CMakeLists.txt does not ask for C++20: taskring::taskring must.
static_assert(__cplusplus >= 202002L, "taskring::taskring did not bring C++20 to its consumer");

int main() {
  std::unique_ptr<taskring::Producer> producer;
  taskring::Status s = taskring::Producer::Open({.queue = "install_test_no_such_queue"}, &producer);
  std::printf("%s\n", s.ToString().c_str());
  return s.IsNotFound() ? 0 : 1;
}
