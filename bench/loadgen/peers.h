// Helpers around the peer backends (Boost message_queue, Redis, beanstalkd) that the load tool
// and its tests need besides the Sender/Receiver factories declared in backend.h.
#ifndef TASKRING_LOADGEN_PEERS_H_
#define TASKRING_LOADGEN_PEERS_H_

#include <string>

namespace taskring::loadgen {

// Removes the Boost.Interprocess message_queue `name` (its shared memory object). Queues
// outlive their processes, so a run removes its queue when it is done. Missing is fine.
void RemoveBoostMq(const std::string& name);

}  // namespace taskring::loadgen

#endif  // TASKRING_LOADGEN_PEERS_H_
