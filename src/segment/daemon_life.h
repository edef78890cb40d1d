// Telling whether a segment's daemon is alive. The daemon locks SegmentHeader::daemon_life, a
// robust process-shared mutex, before the segment becomes visible and holds it for its whole
// life (Segment::Create). When it dies, however it dies, the kernel marks the mutex
// OWNER_DIED, so clients see the death at once, without PID-reuse doubt and without a syscall.
#ifndef TASKRING_SEGMENT_DAEMON_LIFE_H_
#define TASKRING_SEGMENT_DAEMON_LIFE_H_

#include "segment/segment_header.h"

namespace taskring::segment {

// True while a live thread holds the daemon-life mutex: the daemon is running or starting.
// False once the holder released it (clean exit) or died, and for a mutex never locked.
// Only reads the header, so it works on a read-only mapping (`taskring stat`); cheap enough
// for every Enqueue and Take. Safe from any thread.
[[nodiscard]] bool DaemonLifeHeld(const SegmentHeader* h);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_DAEMON_LIFE_H_
