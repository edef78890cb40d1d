#include "daemon/client_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <vector>

#include "small_segment.h"

namespace taskring::daemon {
namespace {

using segment::ClientState;
using segment::PackClientOwner;

class ClientRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(seg_.status().ok()) << seg_.status().ToString(); }
  // A client claims entry `i` in `state`, as Session::Open would (and bumps the epoch).
  void Attach(uint32_t i, ClientState state) {
    seg_->client(i)->owner.store(PackClientOwner(::getpid(), state));
    seg_->header()->clients_epoch.fetch_add(1);
  }
  // Refresh, recording the entries handed over for release; `release_ok` is their answer.
  std::vector<uint32_t> Refresh(bool release_ok = true) {
    std::vector<uint32_t> released;
    registry_.Refresh([&](uint32_t client, uint64_t owner) {
      EXPECT_EQ(segment::OwnerState(owner), ClientState::kClosing);
      released.push_back(client);
      return release_ok;
    });
    return released;
  }

  SmallSegment seg_;
  ClientRegistry registry_{*seg_};
};

TEST_F(ClientRegistryTest, ListsActiveClientsAndHandsClosingOnesOver) {
  Attach(1, ClientState::kActive);
  Attach(4, ClientState::kClosing);
  Attach(6, ClientState::kClaiming);
  EXPECT_EQ(Refresh(), (std::vector<uint32_t>{4}));
  EXPECT_EQ(registry_.active(), (std::vector<uint32_t>{1, 6}));
  EXPECT_FALSE(registry_.TakeRescanRequest());
}

TEST_F(ClientRegistryTest, RescansOnlyWhenTheEpochMoved) {
  Attach(2, ClientState::kActive);
  Refresh();
  seg_->client(3)->owner.store(PackClientOwner(::getpid(), ClientState::kActive));  // no bump
  Refresh();
  EXPECT_EQ(registry_.active(), (std::vector<uint32_t>{2}));
  EXPECT_FALSE(registry_.AnyPending());
  seg_->header()->clients_epoch.fetch_add(1);
  EXPECT_TRUE(registry_.AnyPending()) << "a client came or went";
  Refresh();
  EXPECT_EQ(registry_.active(), (std::vector<uint32_t>{2, 3}));
}

TEST_F(ClientRegistryTest, AClosingClientThatCouldNotBeReleasedAsksForARescan) {
  Attach(5, ClientState::kClosing);
  EXPECT_EQ(Refresh(/*release_ok=*/false), (std::vector<uint32_t>{5}));
  EXPECT_TRUE(registry_.TakeRescanRequest());
  EXPECT_FALSE(registry_.TakeRescanRequest()) << "taken once";
  EXPECT_TRUE(Refresh().empty()) << "the epoch did not move: not looked at";
  registry_.Rescan();
  EXPECT_EQ(Refresh(), (std::vector<uint32_t>{5}));
}

TEST_F(ClientRegistryTest, PublishesCommittedCursorsOfDrainedLanesOnly) {
  Attach(0, ClientState::kActive);
  Attach(1, ClientState::kActive);
  Refresh();
  seg_->client(0)->tail.store(7);
  EXPECT_TRUE(registry_.AnyPending()) << "records wait in lane 0";
  seg_->client(0)->head.store(7);  // what the engine's drain does
  registry_.Drained(0, 7);
  registry_.Drained(0, 7);  // twice in a step: published once
  EXPECT_TRUE(registry_.AnyDrained());
  EXPECT_EQ(seg_->client(0)->committed.load(), 0u) << "not before the commit";
  registry_.PublishCommitted();
  EXPECT_EQ(seg_->client(0)->committed.load(), 7u);
  EXPECT_EQ(seg_->client(1)->committed.load(), 0u);
  EXPECT_FALSE(registry_.AnyDrained());
  EXPECT_FALSE(registry_.AnyPending());
}

}  // namespace
}  // namespace taskring::daemon
