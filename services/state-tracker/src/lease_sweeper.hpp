#pragma once

#include <cstddef>

#include "common/ops/readiness.hpp"
#include "services/state-tracker/src/metrics.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// One sweep: expired leases back to PENDING (or terminally FAILED), reported; refreshes the per-state
// gauges. Returns how many files it moved.
size_t SweepOnce(StateStore& store, TrackerMetrics& metrics);

// Sweeps expired leases, one RunOnce at a time (driven by ops::RunUntilStopped every
// STATE_SWEEP_INTERVAL), and reports whether Redis answered as the readiness condition "redis".
// Threading: one thread.
class LeaseSweeper {
 public:
  static constexpr const char* kCondition = "redis";

  // Adds the condition "redis" to `readiness` (unmet until the first sweep succeeds).
  LeaseSweeper(StateStore& store, TrackerMetrics& metrics, ops::Readiness& readiness);
  // Throws what the store threw, after marking Redis unreachable.
  size_t RunOnce();

 private:
  StateStore& store_;
  TrackerMetrics& metrics_;
  ops::Readiness& readiness_;
};

}  // namespace rainbow::state
