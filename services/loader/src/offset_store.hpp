#pragma once

#include <map>
#include <vector>

#include "common/kafka/types.hpp"
#include "common/pg/connection.hpp"

namespace rainbow::loader {

// warehouse.loader_offsets: the next offset to read per partition, written in the same transaction as
// the rows the events produced (so a crash can neither lose nor repeat a batch).

// The stored next offsets of `partitions` (those never loaded are absent).
std::map<kafka::TopicPartition, int64_t> LoadOffsets(pg::Connection& conn,
                                                     const std::vector<kafka::TopicPartition>& partitions);

// In the caller's transaction: moves the partition from `first` (the first offset of the batch) to
// `next`. False when the stored offset is not `first`: another consumer moved the partition on (a
// rebalance) or this one is not where it thinks it is; the caller must roll back and re-read from
// the stored offset. A partition never stored accepts any `first`.
bool AdvanceOffset(pg::Connection& conn, const kafka::TopicPartition& partition, int64_t first, int64_t next);

}  // namespace rainbow::loader
