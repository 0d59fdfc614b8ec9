#pragma once

#include "common/ops/metrics.hpp"

#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// The tracker's metrics (one set per process, registered in the process registry). Thread-safe.
struct TrackerMetrics {
  explicit TrackerMetrics(prometheus::Registry& registry);
  void Transition(FileState to);
  void SetStats(const Stats& stats);

  ops::LabeledMetrics<prometheus::Gauge> files;          // by state
  ops::LabeledMetrics<prometheus::Counter> transitions;  // by target state ("to")
  prometheus::Counter& lease_expiries;
  prometheus::Counter& terminal_failures;
  prometheus::Histogram& claim_latency;
  ops::LabeledMetrics<prometheus::Counter> notifications;  // files.events messages, by result
  prometheus::Counter& reconciled;                         // objects registered by reconciliation
};

// Reports a transition: metric and log line (a terminal FAILED at error level). The files.state event
// was written by the transition's own script into the outbox; EventRelay publishes it.
void ReportTransition(const FileRecord& record, TrackerMetrics& metrics, const char* why);

}  // namespace rainbow::state
