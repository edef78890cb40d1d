// Symbol visibility for the public API. The library is built with hidden visibility so only what
// is marked TASKRING_EXPORT is part of the ABI.
#ifndef TASKRING_EXPORT_H_
#define TASKRING_EXPORT_H_

#if defined(TASKRING_SHARED_LIBRARY) && defined(TASKRING_COMPILE_LIBRARY)
#define TASKRING_EXPORT __attribute__((visibility("default")))
#else
#define TASKRING_EXPORT
#endif

#endif  // TASKRING_EXPORT_H_
