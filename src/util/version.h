// The project version (project(taskring VERSION ...) in CMakeLists.txt), for --version and the
// taskring_build_info metric. CMake passes it as the compile definition TASKRING_VERSION to the
// binaries that print it (taskringd, taskring); elsewhere it reads "unknown".
#ifndef TASKRING_UTIL_VERSION_H_
#define TASKRING_UTIL_VERSION_H_

#ifndef TASKRING_VERSION
#define TASKRING_VERSION "unknown"
#endif

namespace taskring::util {

// Internal linkage (constexpr at namespace scope): each binary gets its own definition's value.
constexpr const char* kVersion = TASKRING_VERSION;

}  // namespace taskring::util

#endif  // TASKRING_UTIL_VERSION_H_
