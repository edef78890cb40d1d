#include "daemon/client_registry.h"

#include <climits>

#include "util/futex.h"

namespace taskring::daemon {

ClientRegistry::ClientRegistry(const segment::Segment& seg)
    : seg_(seg),
      lane_consumed_(seg.params().max_clients, 0),
      touched_flag_(seg.params().max_clients, 0) {}

void ClientRegistry::Refresh(const std::function<bool(uint32_t, uint64_t)>& release) {
  const uint32_t epoch = seg_.header()->clients_epoch.load(std::memory_order_acquire);
  if (epoch == seen_epoch_) return;
  seen_epoch_ = epoch;
  active_.clear();
  for (uint32_t i = 0; i < seg_.params().max_clients; ++i) {
    const uint64_t owner = seg_.client(i)->owner.load(std::memory_order_acquire);
    if (owner == 0) continue;
    if (segment::OwnerState(owner) == segment::ClientState::kClosing) {
      // On a storage fault the entry stays closing; rescan later (not at once: that would spin).
      if (!release(i, owner)) rescan_requested_ = true;
      continue;
    }
    active_.push_back(i);
  }
}

void ClientRegistry::Drained(uint32_t client, uint64_t pos) {
  lane_consumed_[client] = pos;
  if (!touched_flag_[client]) {
    touched_flag_[client] = 1;
    touched_.push_back(client);
  }
}

void ClientRegistry::PublishCommitted() {
  for (uint32_t c : touched_) {
    segment::ClientEntry* e = seg_.client(c);
    e->committed.store(lane_consumed_[c], std::memory_order_release);
    util::WakeIfSleepers(&e->commit_futex, &e->commit_waiters, INT_MAX);
    touched_flag_[c] = 0;
  }
  touched_.clear();
}

ClientRegistry::Group ClientRegistry::Seal() {
  Group group;
  group.reserve(touched_.size());
  for (uint32_t c : touched_) {
    group.emplace_back(c, lane_consumed_[c]);
    touched_flag_[c] = 0;
  }
  touched_.clear();
  return group;
}

void ClientRegistry::PublishCommitted(const Group& group) {
  for (const auto& [c, pos] : group) {
    segment::ClientEntry* e = seg_.client(c);
    e->committed.store(pos, std::memory_order_release);
    util::WakeIfSleepers(&e->commit_futex, &e->commit_waiters, INT_MAX);
  }
}

void ClientRegistry::Unseal(const Group& group) {
  for (const auto& [c, pos] : group) {
    if (!touched_flag_[c]) {
      touched_flag_[c] = 1;
      touched_.push_back(c);
    }
  }
}

bool ClientRegistry::AnyPending() const {
  for (uint32_t c : active_) {
    const segment::ClientEntry* e = seg_.client(c);
    if (e->tail.load(std::memory_order_acquire) != e->head.load(std::memory_order_relaxed)) {
      return true;
    }
  }
  return seg_.header()->clients_epoch.load(std::memory_order_acquire) != seen_epoch_;
}

}  // namespace taskring::daemon
