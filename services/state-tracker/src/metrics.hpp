#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>

#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// The tracker's metrics (one set per process, registered in the process registry). Thread-safe.
struct TrackerMetrics {
  explicit TrackerMetrics(prometheus::Registry& registry);
  void Transition(FileState to);
  void SetStats(const Stats& stats);

  prometheus::Family<prometheus::Gauge>& files;
  prometheus::Family<prometheus::Counter>& transitions;
  prometheus::Counter& lease_expiries;
  prometheus::Counter& terminal_failures;
  prometheus::Histogram& claim_latency;
  prometheus::Family<prometheus::Counter>& notifications;
  // transitions{to=...} per FileState (index: the enum value), looked up once instead of per call.
  std::array<prometheus::Counter*, 4> transitions_to{};
};

// Reports a transition: metric and log line (a terminal FAILED at error level). The files.state event
// was written by the transition's own script into the outbox; EventRelay publishes it.
void ReportTransition(const FileRecord& record, TrackerMetrics& metrics, const char* why);

}  // namespace rainbow::state
