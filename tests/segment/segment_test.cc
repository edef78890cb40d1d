#include "segment/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

namespace taskring::segment {
namespace {

class SegmentTest : public ::testing::Test {
 protected:
  void TearDown() override { Segment::Remove(queue_); }
  CreateOptions Options() {
    CreateOptions o;
    o.params = Params{64, 128, 8, 16};
    return o;
  }
  std::string Path() const { return "/dev/shm/" + ShmName(queue_); }
  // Writes raw bytes as the queue's shm object, as a foreign program or a crash might leave it.
  void WriteRaw(const std::string& bytes) {
    const int fd = ::open(Path().c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  std::string queue_ = test::UniqueQueueName("seg");
};

TEST_F(SegmentTest, AttachSeesWhatCreateWroteOncePublished) {
  std::unique_ptr<Segment> created, attached;
  ASSERT_OK(Segment::Create(queue_, Options(), &created));
  EXPECT_TRUE(Segment::Attach(queue_, false, &attached).IsNotFound()) << "not installed yet";
  ASSERT_OK(created->Install());
  EXPECT_TRUE(Segment::Attach(queue_, false, &attached).IsNotReady()) << "not published yet";
  created->Publish();
  ASSERT_OK(Segment::Attach(queue_, false, &attached));
  EXPECT_EQ(attached->params().capacity, 64u);
  EXPECT_EQ(attached->params().max_payload, 128u);
  EXPECT_EQ(std::string(attached->header()->queue_name), queue_);
  created->slot(3)->job_id = 42;
  EXPECT_EQ(attached->slot(3)->job_id, 42u) << "both map the same memory";
}

TEST_F(SegmentTest, IsOwnerOnlyByDefaultAndGroupByOption) {
  std::unique_ptr<Segment> seg;
  ASSERT_OK(Segment::Create(queue_, Options(), &seg));
  ASSERT_OK(seg->Install());
  struct stat st {};
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  seg.reset();
  CreateOptions o = Options();
  o.group_access = true;
  ASSERT_OK(Segment::Create(queue_, o, &seg));
  ASSERT_OK(seg->Install());
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(SegmentTest, MissingQueueIsNotFoundWithAHint) {
  std::unique_ptr<Segment> seg;
  const Status s = Segment::Attach(queue_, true, &seg);
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_NE(s.ToString().find("taskringd"), std::string::npos) << s.ToString();
}

TEST_F(SegmentTest, ForeignContentIsRefusedAsCorruption) {
  WriteRaw(std::string(8192, '\x5a'));
  std::unique_ptr<Segment> seg;
  const Status s = Segment::Attach(queue_, true, &seg);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_F(SegmentTest, TruncatedSegmentIsRefused) {
  WriteRaw(std::string(100, '\0'));
  std::unique_ptr<Segment> seg;
  EXPECT_TRUE(Segment::Attach(queue_, true, &seg).IsCorruption());
}

TEST_F(SegmentTest, SegmentCutShortAfterCreationIsRefused) {
  std::unique_ptr<Segment> created, attached;
  ASSERT_OK(Segment::Create(queue_, Options(), &created));
  ASSERT_OK(created->Install());
  created->Publish();
  ASSERT_EQ(::truncate(Path().c_str(), 8192), 0);
  const Status s = Segment::Attach(queue_, true, &attached);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_F(SegmentTest, NewerLayoutVersionIsIncompatible) {
  std::unique_ptr<Segment> created, attached;
  ASSERT_OK(Segment::Create(queue_, Options(), &created));
  ASSERT_OK(created->Install());
  created->header()->layout_version.store(kLayoutVersion + 7);
  const Status s = Segment::Attach(queue_, true, &attached);
  EXPECT_TRUE(s.IsIncompatible()) << s.ToString();
}

TEST_F(SegmentTest, RecreatingMarksTheOldSegmentAbandoned) {
  std::unique_ptr<Segment> old_seg, new_seg;
  ASSERT_OK(Segment::Create(queue_, Options(), &old_seg));
  ASSERT_OK(old_seg->Install());
  old_seg->header()->daemon_state.store(static_cast<uint32_t>(DaemonState::kRunning));
  old_seg->Publish();
  ASSERT_OK(Segment::Create(queue_, Options(), &new_seg));
  EXPECT_EQ(old_seg->header()->daemon_state.load(), static_cast<uint32_t>(DaemonState::kRunning))
      << "untouched while the new one is only staged (its start may still fail)";
  std::unique_ptr<Segment> attached;
  ASSERT_OK(Segment::Attach(queue_, true, &attached));
  EXPECT_EQ(attached->header()->incarnation, old_seg->header()->incarnation);
  ASSERT_OK(new_seg->Install());
  EXPECT_EQ(old_seg->header()->daemon_state.load(), static_cast<uint32_t>(DaemonState::kAbandoned))
      << "a client still mapped to the old segment must learn it is gone";
  EXPECT_NE(old_seg->header()->incarnation, new_seg->header()->incarnation);
}

TEST_F(SegmentTest, InvalidQueueNameNeverTouchesTheFilesystem) {
  std::unique_ptr<Segment> seg;
  EXPECT_TRUE(Segment::Create("../../etc/x", Options(), &seg).IsInvalidArgument());
  EXPECT_TRUE(Segment::Attach("a/b", true, &seg).IsInvalidArgument());
}

}  // namespace
}  // namespace taskring::segment
