#pragma once

#include <cstdint>
#include <string>

#include "common/pg/connection.hpp"
#include "common/s3/client.hpp"

namespace rainbow::loader {

struct BackfillResult {
  int64_t events = 0;     // events applied (lake) or staging rows re-applied (staging)
  int64_t objects = 0;    // lake objects read
  int64_t fact_rows = 0;  // fact rows written
};

// Rebuilds from staging, in one transaction under the model lock: the dimensions take the staging rows
// again (a no-op where they are up to date: SCD2 opens no version for equal attributes), and the facts
// of orders dated from..to (UTC, inclusive, "YYYY-MM-DD") are deleted and built again. Idempotent: a
// second run changes nothing.
BackfillResult BackfillFromStaging(pg::Connection& warehouse, const std::string& from, const std::string& to);

// Recomputes the warehouse from the lake alone (the lambda architecture's batch layer: the lake is
// the master dataset): every object of `bucket`, in (topic, partition, window, date) order, its
// events applied in offset order through the same writer the streaming path uses, one transaction
// per object, and loader_offsets set past the last offset read. Meant for an empty warehouse (freshly
// migrated); what it builds equals what streaming built from the same events.
BackfillResult RecomputeFromLake(pg::Connection& warehouse, s3::S3Client& s3, const std::string& bucket);

}  // namespace rainbow::loader
