// The daemon's Prometheus endpoint: prometheus-cpp serves /metrics, and a custom Collectable
// reads the queue's segment at scrape time, so the numbers are the ones every process wrote
// into shared memory, with nothing copied or cached in between.
#ifndef TASKRING_DAEMON_METRICS_EXPORTER_H_
#define TASKRING_DAEMON_METRICS_EXPORTER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "segment/segment.h"
#include "taskring/status.h"

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace taskring::daemon {

// InvalidArgument unless `address` is HOST:PORT with a numeric port.
Status ValidateListenAddress(const std::string& address);

class MetricsExporter {
 public:
  // Listens on `address` ("127.0.0.1:9464"; port 0 picks a free one). InvalidArgument for a
  // malformed address, IOError with the reason if it cannot listen; *in_use (if given) tells
  // whether that reason is a port already taken. `outcome_max_bytes` is the outcome store's
  // bound (--result-max-mb), which only the daemon knows (the segment does not hold it), served
  // as taskring_outcome_store_max_bytes; 0 leaves that gauge out.
  [[nodiscard]] static Status Start(const std::string& address, const segment::Segment& seg,
                                    uint64_t outcome_max_bytes,
                                    std::unique_ptr<MetricsExporter>* out, bool* in_use = nullptr);
  // The same endpoint for any collectable (a prometheus::Registry): taskring relay and bridge.
  [[nodiscard]] static Status Start(const std::string& address,
                                    std::shared_ptr<prometheus::Collectable> collectable,
                                    std::unique_ptr<MetricsExporter>* out, bool* in_use = nullptr);
  ~MetricsExporter();  // stops serving within milliseconds
  int port() const { return port_; }

 private:
  MetricsExporter() = default;
  std::shared_ptr<prometheus::Collectable> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string host_;
  int port_ = 0;
};

}  // namespace taskring::daemon

#endif  // TASKRING_DAEMON_METRICS_EXPORTER_H_
