// A small segment for the daemon's unit tests, created in this process (no daemon runs): the
// test plays the engine and, by writing slot words and ring cursors, the clients.
#ifndef TASKRING_TESTS_DAEMON_SMALL_SEGMENT_H_
#define TASKRING_TESTS_DAEMON_SMALL_SEGMENT_H_

#include <memory>
#include <string>

#include "segment/segment.h"
#include "test_util.h"

namespace taskring::daemon {

class SmallSegment {
 public:
  // max_result and outcome_index_entries: 0 for no result buffers and no outcome index.
  explicit SmallSegment(uint32_t capacity = 16, const std::string& tag = "dseg",
                        uint32_t max_result = 0, uint32_t outcome_index_entries = 0)
      : queue_(test::UniqueQueueName(tag)) {
    segment::CreateOptions o;
    o.params = segment::Params{capacity, 64, 8, 16, max_result, outcome_index_entries};
    status_ = segment::Segment::Create(queue_, o, &seg_);
  }
  ~SmallSegment() {
    seg_.reset();
    segment::Segment::Remove(queue_);
  }
  const Status& status() const { return status_; }
  segment::Segment& operator*() const { return *seg_; }
  segment::Segment* operator->() const { return seg_.get(); }
  const std::string& queue() const { return queue_; }

  // Sets a slot's state word.
  void SetSlot(uint32_t slot, uint32_t gen, uint32_t owner, segment::SlotState state) const {
    seg_->slot(slot)->word.store(segment::PackSlotWord(gen, owner, state));
  }

 private:
  std::string queue_;
  Status status_;
  std::unique_ptr<segment::Segment> seg_;
};

}  // namespace taskring::daemon

#endif  // TASKRING_TESTS_DAEMON_SMALL_SEGMENT_H_
