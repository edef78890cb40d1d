// Where a queue lives outside its segment: the names of its shared-memory objects and of its
// daemon's lock file, all derived from the queue name, which is checked to be a safe file name.
#ifndef TASKRING_SEGMENT_QUEUE_NAMES_H_
#define TASKRING_SEGMENT_QUEUE_NAMES_H_

#include <cstddef>
#include <string>

#include "taskring/status.h"

namespace taskring::segment {

inline constexpr size_t kMaxQueueName = 64;  // with its NUL (SegmentHeader::queue_name)

// Queue names become file names: [A-Za-z0-9_.-]{1,63}, not starting with '.'.
Status ValidateQueueName(const std::string& name);
// "taskring.<queue>": the name of a queue's segment as Boost.Interprocess takes it (it adds the
// leading '/' of a POSIX shm name); the object shows as /dev/shm/taskring.<queue>.
std::string ShmName(const std::string& queue);
// "/dev/shm/taskring.<queue>~lock": a path (not a shm name), the flock held by the queue's
// daemon for its life.
std::string LockPath(const std::string& queue);
// "taskring.<queue>~new", named like ShmName: where the daemon builds the segment before it
// appears under ShmName (renamed by Segment::Install).
std::string StagingShmName(const std::string& queue);

}  // namespace taskring::segment

#endif  // TASKRING_SEGMENT_QUEUE_NAMES_H_
