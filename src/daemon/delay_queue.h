// Delayed jobs (an enqueue delay or a retry backoff) by run time. Owned by the engine thread.
#ifndef TASKRING_DAEMON_DELAY_QUEUE_H_
#define TASKRING_DAEMON_DELAY_QUEUE_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace taskring::daemon {

// Each delayed slot has exactly one entry, so the heap is bounded by the capacity. An entry is a
// hint: the engine checks the slot's generation before it acts on one.
class DelayQueue {
 public:
  struct Entry {
    uint64_t due_unix_ns;
    uint32_t slot;
    uint32_t gen;
    bool operator>(const Entry& o) const { return due_unix_ns > o.due_unix_ns; }
  };
  void Push(const Entry& e) { heap_.push(e); }
  // The earliest entry due at `now_unix_ns`, removed; false if none is due.
  bool PopDue(uint64_t now_unix_ns, Entry* out) {
    if (heap_.empty() || heap_.top().due_unix_ns > now_unix_ns) return false;
    *out = heap_.top();
    heap_.pop();
    return true;
  }
  size_t size() const { return heap_.size(); }

 private:
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_DELAY_QUEUE_H_
