// The queues the gateway serves, each attached on first use and re-attached after its daemon
// restarted: a read-only view of its segment (liveness, max payload, statistics), one JobClient
// (status, result, cancel: shared by every request), and a ProducerPool for enqueues.
//
// A queue whose daemon is gone answers 503 until a daemon serves it again; nothing here keeps
// the gateway from starting or serving other queues. Thread-safe.
#ifndef TASKRING_HTTP_QUEUE_REGISTRY_H_
#define TASKRING_HTTP_QUEUE_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/gateway_options.h"
#include "http/history.h"
#include "http/job_json.h"
#include "http/producer_pool.h"
#include "metrics/snapshot.h"
#include "segment/segment.h"
#include "taskring/job_client.h"
#include "taskring/status.h"

namespace taskring::http {

class QueueEntry {
 public:
  QueueEntry(std::string name, const GatewayOptions& options);
  const std::string& name() const { return name_; }
  ProducerPool& pool() { return pool_; }

  // The queue's GET body: depth, capacity, outstanding, running, delayed, workers, daemon state,
  // drain rate, retry-after hint and counter rates (see docs/http.md). Reads the segment:
  // O(capacity).
  // `snap`, if given, gets the snapshot it was made from.
  Json Stats(metrics::QueueSnapshot* snap = nullptr);
  // A fresh snapshot for the history sampler (leaves the rates' base alone); false when the
  // queue is not attached.
  bool Snapshot(metrics::QueueSnapshot* out);
  // Runs `read` on the attached segment (false when not attached), without holding the entry's
  // lock, so a slot scan does not stall the requests of the io threads.
  bool WithSegment(const std::function<void(const segment::Segment&)>& read);
  History& history() { return history_; }
  // Empty while the daemon is up and admitting; else why not.
  std::string Unhealthy();

 private:
  friend class QueueRegistry;
  const std::string name_;
  std::atomic<uint64_t> generation_{0};  // bumped at each (re-)attach: see ProducerPool
  std::mutex mu_;                        // guards the members below
  // Read-only. Shared so a long read (a slot scan on a pool thread) keeps its mapping without
  // holding mu_, which every request of the queue takes.
  std::shared_ptr<const segment::Segment> seg_;
  std::shared_ptr<JobClient> jobs_;
  // Rates are per second over the span since a reading at least 1 s older.
  metrics::QueueSnapshot rate_base_;
  Json last_rates_ = nullptr;
  History history_;    // its own lock
  ProducerPool pool_;  // last: its threads read generation_
};

// What a request works with; the entry stays valid (shared) while the request runs.
struct QueueView {
  std::shared_ptr<QueueEntry> entry;
  std::shared_ptr<JobClient> jobs;
  uint32_t max_payload = 0;
};

class QueueRegistry {
 public:
  explicit QueueRegistry(GatewayOptions options) : options_(std::move(options)) {}

  // NotFound: no such queue, or not one of --queue (404). Closed, NotReady, ... : the queue
  // exists (or is listed) but its daemon does not serve it now (503, with the reason).
  [[nodiscard]] Status Get(const std::string& name, QueueView* out);
  // Whether `name` is a queue this gateway serves or has served (--queue, or attached since):
  // a bounded set, so it may label metrics where a name from a URL may not.
  [[nodiscard]] bool Known(const std::string& name) const;
  // For /healthz: the --queue list, or else every queue served so far.
  [[nodiscard]] std::vector<std::string> Served() const;
  // Stops every queue's producer threads (they answer what they hold first).
  void StopPools();

 private:
  const GatewayOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<QueueEntry>> entries_;
};

}  // namespace taskring::http

#endif  // TASKRING_HTTP_QUEUE_REGISTRY_H_
