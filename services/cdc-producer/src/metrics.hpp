#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace rainbow::cdc {

// The service's Prometheus families, registered once in the process registry. Labels are bounded: the
// table label takes only the tables of the publication, op one of c/u/d/r/t/tombstone.
// Thread-safe (prometheus-cpp metrics are atomic; the counter cache has a mutex).
class CdcMetrics {
 public:
  explicit CdcMetrics(prometheus::Registry& registry);

  prometheus::Counter& Events(const std::string& table, const std::string& op);

  prometheus::Counter& replayed_events;
  prometheus::Counter& snapshot_rows;
  prometheus::Counter& heartbeats;
  prometheus::Counter& delivery_failures;
  // Events over CDC_MAX_MESSAGE_BYTES, by what was done (failed, dead_lettered, left_out).
  prometheus::Counter& Oversized(const std::string& action);
  prometheus::Counter& decode_errors;
  prometheus::Counter& reconnects_postgres;
  prometheus::Counter& reconnects_kafka;
  prometheus::Gauge& lag_bytes;
  prometheus::Gauge& confirmed_lsn;
  prometheus::Gauge& received_lsn;
  prometheus::Gauge& streaming;
  prometheus::Gauge& in_flight;

 private:
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& oversized_;
  std::mutex mu_;
  std::unordered_map<std::string, prometheus::Counter*> cache_;
};

}  // namespace rainbow::cdc
