// Helpers shared by the libFuzzer targets in tests/fuzz (see README.md there).
#ifndef TASKRING_TESTS_FUZZ_FUZZ_COMMON_H_
#define TASKRING_TESTS_FUZZ_FUZZ_COMMON_H_

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "taskring/status.h"

// An invariant the fuzzer checks: on violation, print where and why, then abort() so libFuzzer
// saves the input as a crash artifact. Always on (not tied to NDEBUG).
#define FUZZ_CHECK(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                   \
      std::fprintf(stderr, "\n");                                                          \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace taskring::fuzz {

// A Status that is not OK must have one of the `allowed` codes and a non-empty message.
inline void CheckErrorStatus(const Status& s, std::initializer_list<Status::Code> allowed,
                             const char* what) {
  if (s.ok()) return;
  bool code_ok = false;
  for (Status::Code c : allowed) code_ok = code_ok || s.code() == c;
  FUZZ_CHECK(code_ok, "%s returned an unexpected status code: %s", what, s.ToString().c_str());
  FUZZ_CHECK(!s.message().empty(), "%s returned an error without a message: %s", what,
             s.ToString().c_str());
}

}  // namespace taskring::fuzz

#endif  // TASKRING_TESTS_FUZZ_FUZZ_COMMON_H_
