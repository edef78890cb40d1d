// Symbol visibility for the public API. The library (taskring and the internal layers it is built
// from) is compiled with -fvisibility=hidden and -fvisibility-inlines-hidden, and with
// TASKRING_COMPILE_LIBRARY defined: only what is marked TASKRING_EXPORT keeps default visibility,
// so a shared library linked from these objects exports exactly that, plus what third-party
// headers declare visible themselves (libstdc++'s template instantiations, the typeinfo of
// Boost.Interprocess's exception). For code using the library TASKRING_EXPORT is empty: nothing
// needs importing on ELF platforms.
#ifndef TASKRING_EXPORT_H_
#define TASKRING_EXPORT_H_

#if defined(TASKRING_COMPILE_LIBRARY)
#define TASKRING_EXPORT __attribute__((visibility("default")))
#else
#define TASKRING_EXPORT
#endif

#endif  // TASKRING_EXPORT_H_
