// include/taskring/taskring.h alone, compiled as C++11 with -Wall -Wextra -pedantic -Werror
// (tests/CMakeLists.txt): extern "C" and no C-only construct.
#include "taskring/taskring.h"

static_assert(sizeof(taskring_token) == 41, "a token is 40 hex digits and a NUL");
int taskring_header_cxx_check() { return static_cast<int>(TASKRING_VERSION_MAJOR); }
