#include "services/cdc-producer/src/metrics.hpp"

namespace rainbow::cdc {
namespace {

prometheus::Counter& Counter(prometheus::Registry& r, const std::string& name, const std::string& help,
                             const std::map<std::string, std::string>& labels = {}) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add(labels);
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

CdcMetrics::CdcMetrics(prometheus::Registry& r)
    : replayed_events(
          Counter(r, "cdc_replayed_events_total",
                  "Events sent again after a restart (duplicates on Kafka, at-least-once); a lower "
                  "bound after kill -9")),
      snapshot_rows(Counter(r, "cdc_snapshot_rows_total", "Rows emitted by snapshots (op r)")),
      heartbeats(
          Counter(r, "cdc_heartbeats_total", "Heartbeat messages written with pg_logical_emit_message")),
      delivery_failures(Counter(r, "cdc_delivery_failures_total", "Kafka delivery reports that failed")),
      decode_errors(
          Counter(r, "cdc_decode_errors_total", "Malformed replication messages (the service stops)")),
      reconnects_postgres(prometheus::BuildCounter()
                              .Name("cdc_reconnects_total")
                              .Help("Replication sessions restarted after an error, by cause")
                              .Register(r)
                              .Add({{"cause", "postgres"}})),
      reconnects_kafka(prometheus::BuildCounter()
                           .Name("cdc_reconnects_total")
                           .Help("Replication sessions restarted after an error, by cause")
                           .Register(r)
                           .Add({{"cause", "kafka"}})),
      lag_bytes(Gauge(r, "cdc_slot_lag_bytes", "pg_current_wal_lsn() - confirmed_flush_lsn of the slot")),
      confirmed_lsn(Gauge(r, "cdc_confirmed_lsn", "Last LSN confirmed to PostgreSQL (as a number)")),
      received_lsn(Gauge(r, "cdc_received_lsn", "Last LSN received from PostgreSQL (as a number)")),
      streaming(Gauge(r, "cdc_streaming", "1 while the replication stream is open")),
      in_flight(Gauge(r, "cdc_in_flight_events", "Events produced and not yet acknowledged by Kafka")),
      events_(prometheus::BuildCounter()
                  .Name("cdc_events_total")
                  .Help("Records produced to Kafka, by table and op (c u d r t tombstone)")
                  .Register(r)),
      oversized_(prometheus::BuildCounter()
                     .Name("cdc_oversized_events_total")
                     .Help("Events over CDC_MAX_MESSAGE_BYTES, by action (failed, dead_lettered, left_out)")
                     .Register(r)) {
  // Every action's series exists at 0 from the start (dashboards and alerts see "none yet").
  for (const char* action : {"failed", "dead_lettered", "left_out"}) oversized_.Add({{"action", action}});
}

prometheus::Counter& CdcMetrics::Oversized(const std::string& action) {
  return oversized_.Add({{"action", action}});
}

prometheus::Counter& CdcMetrics::Events(const std::string& table, const std::string& op) {
  std::lock_guard lock(mu_);
  const std::string k = table + '\0' + op;
  auto it = cache_.find(k);
  if (it != cache_.end()) return *it->second;
  auto& c = events_.Add({{"table", table}, {"op", op}});
  cache_.emplace(k, &c);
  return c;
}

}  // namespace rainbow::cdc
