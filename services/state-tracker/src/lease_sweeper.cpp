#include "services/state-tracker/src/lease_sweeper.hpp"

namespace rainbow::state {

size_t SweepOnce(StateStore& store, TrackerMetrics& metrics) {
  size_t moved = 0;
  for (;;) {
    const auto files = store.SweepExpired(100);
    for (const auto& f : files) {
      metrics.lease_expiries.Increment();
      ReportTransition(f, metrics, "lease expired");
    }
    moved += files.size();
    if (files.size() < 100) break;
  }
  metrics.SetStats(store.GetStats());
  return moved;
}

LeaseSweeper::LeaseSweeper(StateStore& store, TrackerMetrics& metrics, ops::Readiness& readiness)
    : store_(store), metrics_(metrics), readiness_(readiness) {
  readiness_.AddCondition(kCondition, "redis not reachable");
}

size_t LeaseSweeper::RunOnce() {
  try {
    const size_t moved = SweepOnce(store_, metrics_);
    readiness_.Set(kCondition);
    return moved;
  } catch (const std::exception&) {
    readiness_.Set(kCondition, "redis not reachable");
    throw;
  }
}

}  // namespace rainbow::state
