// io::Env: the contract every Env keeps (one test body, run against the real file system and
// MemEnv), PosixEnv's write retry loop, and FaultInjectionEnv's errors and simulated power loss.
#include "io/env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/fault_injection_env.h"
#include "io/mem_env.h"
#include "io/write_loop.h"
#include "test_util.h"

namespace taskring::io {
namespace {

using Op = FaultInjectionEnv::Op;
using Fault = FaultInjectionEnv::Fault;

Status WriteFile(Env* env, const std::string& path, const std::string& data, bool sync) {
  std::unique_ptr<WritableFile> f;
  Status s = env->NewWritableFile(path, {}, &f);
  if (s.ok()) s = f->Write(0, data);
  if (s.ok() && sync) s = f->DataSync();
  if (s.ok()) s = f->Close();
  return s;
}

std::string Read(Env* env, const std::string& path) {
  std::string data;
  Status s = ReadFileToString(env, path, &data);
  return s.ok() ? data : "<" + s.ToString() + ">";
}

std::vector<std::string> Children(Env* env, const std::string& dir) {
  std::vector<std::string> names;
  EXPECT_OK(env->GetChildren(dir, &names));
  std::sort(names.begin(), names.end());
  return names;
}

bool Exists(Env* env, const std::string& path) {
  FileStat st;
  return env->Stat(path, &st).ok();
}

// --- the contract, against each Env ---

struct EnvCase {
  const char* name;
  std::function<std::unique_ptr<Env>()> make;  // null: Env::Default()
};

class EnvContractTest : public ::testing::TestWithParam<EnvCase> {
 protected:
  void SetUp() override {
    if (GetParam().make) {
      owned_ = GetParam().make();
      env_ = owned_.get();
      dir_ = "/t";
      ASSERT_OK(env_->CreateDir(dir_, 0700));
    } else {
      env_ = Env::Default();
      dir_ = tmp_.path();
    }
  }
  std::string P(const std::string& name) const { return dir_ + "/" + name; }

  test::TempDir tmp_;
  std::unique_ptr<Env> owned_;
  Env* env_ = nullptr;
  std::string dir_;
};

TEST_P(EnvContractTest, WritesAtOffsetsTruncatesAndReadsBack) {
  std::unique_ptr<WritableFile> f;
  ASSERT_OK(env_->NewWritableFile(P("a"), {}, &f));
  EXPECT_EQ(P("a"), f->path());
  ASSERT_OK(f->Write(0, "hello world"));
  ASSERT_OK(f->Write(6, "there"));  // overwrite in place
  ASSERT_OK(f->Write(11, "!"));
  ASSERT_OK(f->DataSync());
  ASSERT_OK(f->Sync());
  EXPECT_EQ("hello there!", Read(env_, P("a")));
  ASSERT_OK(f->Truncate(5));
  ASSERT_OK(f->Close());
  EXPECT_EQ("hello", Read(env_, P("a")));

  FileStat st;
  ASSERT_OK(env_->Stat(P("a"), &st));
  EXPECT_EQ(5u, st.size);
  EXPECT_TRUE(st.is_regular);
  EXPECT_FALSE(st.is_directory);

  std::unique_ptr<ReadableFile> r;
  ASSERT_OK(env_->NewReadableFile(P("a"), {}, &r));
  EXPECT_EQ(5u, r->Size());
  EXPECT_TRUE(r->IsRegular());
  char buf[16];
  size_t got = 0;
  ASSERT_OK(r->Read(3, sizeof(buf), buf, &got));
  EXPECT_EQ("lo", std::string(buf, got));
  ASSERT_OK(r->Read(9, 4, buf, &got));
  EXPECT_EQ(0u, got);

  std::string prefix;
  ASSERT_OK(ReadFileToString(env_, P("a"), &prefix, {}, 3));
  EXPECT_EQ("hel", prefix);
}

TEST_P(EnvContractTest, NewFileTruncatesUnlessExclusiveAndReopenKeepsContent) {
  ASSERT_OK(WriteFile(env_, P("a"), "old content", false));
  ASSERT_OK(WriteFile(env_, P("a"), "new", false));
  EXPECT_EQ("new", Read(env_, P("a")));

  WritableFileOptions excl;
  excl.exclusive = true;
  std::unique_ptr<WritableFile> f;
  Status s = env_->NewWritableFile(P("a"), excl, &f);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(P("a") + ": " + std::strerror(EEXIST), s.message());

  ASSERT_OK(env_->ReopenWritableFile(P("a"), &f));
  ASSERT_OK(f->Write(3, "er"));
  ASSERT_OK(f->Close());
  EXPECT_EQ("newer", Read(env_, P("a")));
  EXPECT_TRUE(env_->ReopenWritableFile(P("nope"), &f).IsNotFound());
}

TEST_P(EnvContractTest, MissingThingsAreNotFoundNamingThePath) {
  std::unique_ptr<WritableFile> w;
  std::unique_ptr<ReadableFile> r;
  std::vector<std::string> names;
  FileStat st;
  Status s = env_->NewReadableFile(P("nope"), {}, &r);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ(P("nope") + ": " + std::strerror(ENOENT), s.message());
  EXPECT_TRUE(env_->NewWritableFile(P("no/such/dir"), {}, &w).IsNotFound());
  EXPECT_TRUE(env_->GetChildren(P("nodir"), &names).IsNotFound());
  EXPECT_TRUE(env_->Stat(P("nope"), &st).IsNotFound());
  EXPECT_TRUE(env_->RemoveFile(P("nope")).IsNotFound());
  EXPECT_TRUE(env_->RenameFile(P("nope"), P("b")).IsNotFound());
  EXPECT_FALSE(env_->SyncDir(P("nodir")).ok());
}

TEST_P(EnvContractTest, DirectoriesListRenameAndRemove) {
  EXPECT_TRUE(Children(env_, dir_).empty());
  ASSERT_OK(env_->CreateDir(P("sub"), 0750));
  ASSERT_OK(env_->CreateDir(P("sub"), 0750));  // exists: OK
  FileStat st;
  ASSERT_OK(env_->Stat(P("sub"), &st));
  EXPECT_TRUE(st.is_directory);
  ASSERT_OK(WriteFile(env_, P("a"), "A", true));
  ASSERT_OK(WriteFile(env_, P("b"), "B", true));
  ASSERT_OK(WriteFile(env_, P("sub/c"), "C", true));
  EXPECT_EQ((std::vector<std::string>{"a", "b", "sub"}), Children(env_, dir_));
  EXPECT_EQ((std::vector<std::string>{"c"}), Children(env_, P("sub")));

  ASSERT_OK(env_->RenameFile(P("a"), P("b")));  // replaces b
  EXPECT_EQ("A", Read(env_, P("b")));
  EXPECT_FALSE(Exists(env_, P("a")));
  ASSERT_OK(env_->RemoveFile(P("b")));
  EXPECT_EQ((std::vector<std::string>{"sub"}), Children(env_, dir_));
  ASSERT_OK(env_->SyncDir(dir_));
}

TEST_P(EnvContractTest, AFileRemovedWhileOpenStaysUsableThroughItsHandle) {
  std::unique_ptr<WritableFile> f;
  ASSERT_OK(env_->NewWritableFile(P("a"), {}, &f));
  ASSERT_OK(env_->RemoveFile(P("a")));
  ASSERT_OK(f->Write(0, "x"));
  ASSERT_OK(f->DataSync());
  ASSERT_OK(f->Close());
  EXPECT_FALSE(Exists(env_, P("a")));
}

// A FaultInjectionEnv with no faults must be invisible; this one owns its MemEnv target.
struct MemHolder {
  MemEnv mem;
};
class FaultOverMem : private MemHolder, public FaultInjectionEnv {
 public:
  FaultOverMem() : FaultInjectionEnv(&mem) {}
};

INSTANTIATE_TEST_SUITE_P(
    Envs, EnvContractTest,
    ::testing::Values(EnvCase{"Posix", nullptr},
                      EnvCase{"Mem", [] { return std::unique_ptr<Env>(new MemEnv); }},
                      EnvCase{"FaultOverMem",
                              [] { return std::unique_ptr<Env>(new FaultOverMem); }}),
    [](const ::testing::TestParamInfo<EnvCase>& info) { return std::string(info.param.name); });

TEST(PosixEnvTest, ExactModeIgnoresTheUmaskAndNoFollowRefusesASymlink) {
  test::TempDir dir;
  Env* env = Env::Default();
  const mode_t old = ::umask(0077);
  WritableFileOptions opts;
  opts.mode = 0640;
  opts.exact_mode = true;
  std::unique_ptr<WritableFile> f;
  ASSERT_OK(env->NewWritableFile(dir.path() + "/a", opts, &f));
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(0, ::stat((dir.path() + "/a").c_str(), &st));
  EXPECT_EQ(0640u, st.st_mode & 0777);

  ASSERT_EQ(0, ::symlink("a", (dir.path() + "/link").c_str()));
  std::unique_ptr<ReadableFile> r;
  EXPECT_OK(env->NewReadableFile(dir.path() + "/link", {}, &r));
  ReadableFileOptions no_follow;
  no_follow.no_follow = true;
  EXPECT_TRUE(env->NewReadableFile(dir.path() + "/link", no_follow, &r).IsIOError());
}

// --- PosixEnv's pwrite loop ---

TEST(WriteLoopTest, ShortWritesAndEintrAreRetriedAtTheRightOffsets) {
  std::string file(5000, '.');
  int calls = 0;
  auto flaky = [&](int, const void* buf, size_t n, off_t offset) -> ssize_t {
    if (calls++ % 2 == 0) {
      errno = EINTR;
      return -1;
    }
    n = std::min<size_t>(n, 700);
    std::memcpy(file.data() + offset, buf, n);
    return static_cast<ssize_t>(n);
  };
  std::string data(4000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  size_t written = 0;
  EXPECT_EQ(0, detail::PwriteFully(flaky, 3, data.data(), data.size(), 1000, &written));
  EXPECT_EQ(data.size(), written);
  EXPECT_EQ(data, file.substr(1000, 4000));
  EXPECT_GT(calls, 10);
}

TEST(WriteLoopTest, AnErrorStopsAndReportsHowMuchWasWritten) {
  int calls = 0;
  auto full = [&](int, const void*, size_t n, off_t) -> ssize_t {
    if (calls++ == 0) return static_cast<ssize_t>(std::min<size_t>(n, 100));
    errno = ENOSPC;
    return -1;
  };
  size_t written = 0;
  std::string data(1000, 'x');
  EXPECT_EQ(ENOSPC, detail::PwriteFully(full, 3, data.data(), data.size(), 0, &written));
  EXPECT_EQ(100u, written);

  auto stuck = [](int, const void*, size_t, off_t) -> ssize_t { return 0; };
  EXPECT_EQ(EIO, detail::PwriteFully(stuck, 3, data.data(), data.size(), 0, &written));
  EXPECT_EQ(0u, written);
}

// --- FaultInjectionEnv ---

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(mem_.CreateDir("/d", 0700)); }

  MemEnv mem_;
  FaultInjectionEnv env_{&mem_};
};

TEST_F(FaultInjectionEnvTest, PowerLossDropsUnsyncedDataAndKeepsSyncedData) {
  std::unique_ptr<WritableFile> f;
  ASSERT_OK(env_.NewWritableFile("/d/a", {}, &f));
  ASSERT_OK(env_.SyncDir("/d"));
  ASSERT_OK(f->Write(0, "synced|"));
  ASSERT_OK(f->DataSync());
  ASSERT_OK(f->Write(7, "lost"));
  EXPECT_EQ(4u, env_.UnsyncedBytes());
  ASSERT_OK(WriteFile(&env_, "/d/b", "all synced", true));
  ASSERT_OK(env_.SyncDir("/d"));
  f.reset();

  ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ("synced|", Read(&env_, "/d/a"));
  EXPECT_EQ("all synced", Read(&env_, "/d/b"));
  EXPECT_EQ(0u, env_.UnsyncedBytes());
  // What survived is the new durable state: a second loss changes nothing.
  ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ("synced|", Read(&env_, "/d/a"));
}

TEST_F(FaultInjectionEnvTest, PowerLossForgetsACreationWhoseDirectoryWasNotSynced) {
  ASSERT_OK(WriteFile(&env_, "/d/new", "data, even synced", true));
  ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_FALSE(Exists(&env_, "/d/new"));
}

TEST_F(FaultInjectionEnvTest, PowerLossUndoesAnUnsyncedRenameAndRemoval) {
  ASSERT_OK(WriteFile(&env_, "/d/target", "old", true));
  ASSERT_OK(WriteFile(&env_, "/d/victim", "keep me", true));
  ASSERT_OK(WriteFile(&env_, "/d/tmp", "new", true));
  ASSERT_OK(env_.SyncDir("/d"));

  ASSERT_OK(env_.RenameFile("/d/tmp", "/d/target"));  // temp + rename, no directory sync
  ASSERT_OK(env_.RemoveFile("/d/victim"));
  EXPECT_EQ("new", Read(&env_, "/d/target"));
  ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ("old", Read(&env_, "/d/target"));
  EXPECT_EQ("new", Read(&env_, "/d/tmp"));
  EXPECT_EQ("keep me", Read(&env_, "/d/victim"));

  // With the directory synced, both hold.
  ASSERT_OK(env_.RenameFile("/d/tmp", "/d/target"));
  ASSERT_OK(env_.RemoveFile("/d/victim"));
  ASSERT_OK(env_.SyncDir("/d"));
  ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ("new", Read(&env_, "/d/target"));
  EXPECT_FALSE(Exists(&env_, "/d/tmp"));
  EXPECT_FALSE(Exists(&env_, "/d/victim"));
}

TEST_F(FaultInjectionEnvTest, AFailedDirectorySyncDoesNotMakeNamesDurable) {
  ASSERT_OK(WriteFile(&env_, "/d/a", "x", true));
  env_.Inject(Fault(Op::kSyncDir).Times(1));
  Status s = env_.SyncDir("/d");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(std::string("/d: ") + std::strerror(EIO), s.message());
  ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_FALSE(Exists(&env_, "/d/a"));
}

TEST_F(FaultInjectionEnvTest, InjectedErrorsAreCountedAndSelectedByPath) {
  // Two writes to a "seg" path succeed, then two fail with ENOSPC, then writes work again;
  // other paths are never touched.
  env_.Inject(Fault(Op::kWrite).PathContains("seg").Skip(2).Times(2).Error(ENOSPC));
  std::unique_ptr<WritableFile> seg, other;
  ASSERT_OK(env_.NewWritableFile("/d/seg", {}, &seg));
  ASSERT_OK(env_.NewWritableFile("/d/other", {}, &other));
  std::vector<bool> ok;
  for (int i = 0; i < 5; ++i) {
    ok.push_back(seg->Write(static_cast<uint64_t>(i), "x").ok());
    ASSERT_OK(other->Write(static_cast<uint64_t>(i), "y"));
  }
  EXPECT_EQ((std::vector<bool>{true, true, false, false, true}), ok);
  EXPECT_EQ(2, env_.injected_failures());

  Status s = seg->Write(0, "z");
  ASSERT_OK(s);
  env_.Inject(Fault(Op::kWrite).Error(ENOSPC).PartialBytes(2));
  s = seg->Write(10, "abcdef");
  EXPECT_EQ(std::string("/d/seg: ") + std::strerror(ENOSPC), s.message());
  // Writes at 2 and 3 failed (holes), "z" replaced the first byte, and 2 bytes of the last
  // write reached the file before the error.
  EXPECT_EQ(std::string("zx\0\0x", 5) + std::string(5, '\0') + "ab", Read(&env_, "/d/seg"));

  env_.ClearFaults();
  env_.Inject(Fault(Op::kSync).Times(1));
  EXPECT_TRUE(seg->DataSync().IsIOError());
  ASSERT_OK(seg->DataSync());
  env_.Inject(Fault(Op::kCreate).PathContains("/d/c"));
  std::unique_ptr<WritableFile> c;
  EXPECT_TRUE(env_.NewWritableFile("/d/c", {}, &c).IsIOError());
  EXPECT_FALSE(Exists(&env_, "/d/c"));
  env_.Inject(Fault(Op::kRename));
  EXPECT_TRUE(env_.RenameFile("/d/seg", "/d/x").IsIOError());
  env_.Inject(Fault(Op::kRemove));
  EXPECT_TRUE(env_.RemoveFile("/d/seg").IsIOError());
  EXPECT_TRUE(Exists(&env_, "/d/seg"));
}

}  // namespace
}  // namespace taskring::io
