#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/s3/client.hpp"
#include "services/state-tracker/src/metrics.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// The S3 key prefix to list in `bucket` so that every "bucket/key" starting with accept_prefix is seen
// (accept_prefix empty: the whole bucket), or nullopt when no key of the bucket can match.
std::optional<std::string> ListPrefix(const std::string& bucket, const std::string& accept_prefix);

// The safety net under bucket notifications (which can be lost: a notification target down past its
// queue, a deleted events message, a flushed Redis): lists the source bucket(s) and registers as
// PENDING every object whose key the tracker does not know (StateStore::RegisterIfAbsent), each logged
// and counted in state_reconciled_total. Known keys are never touched.
// Driven by ops::RunUntilStopped every STATE_RECONCILE_INTERVAL. Threading: one thread.
class Reconciler {
 public:
  Reconciler(s3::S3Client& s3, StateStore& store, TrackerMetrics& metrics, std::vector<std::string> buckets,
             std::string accept_prefix);
  // One pass over every bucket; returns how many objects it registered. Throws on S3 or Redis errors
  // (the next pass starts over; registration is idempotent).
  size_t RunOnce();

 private:
  s3::S3Client& s3_;
  StateStore& store_;
  TrackerMetrics& metrics_;
  std::vector<std::string> buckets_;
  std::string accept_prefix_;
};

}  // namespace rainbow::state
