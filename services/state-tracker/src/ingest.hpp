#pragma once

#include <string>

#include "common/kafka/dead_letter.hpp"
#include "common/kafka/types.hpp"
#include "services/state-tracker/src/metrics.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// What the consumer did with one files.events message.
enum class IngestResult { kRegistered, kRemoved, kDuplicate, kSkipped, kDeadLettered };

// Handles one files.events message: registers every s3:ObjectCreated record whose bucket/key starts
// with accept_prefix (empty: all) and is in a watched bucket, and marks the files of s3:ObjectRemoved
// records REMOVED (StateStore::Remove); a message that is not a bucket
// notification goes to files.events.dlq (the caller then commits). Redis errors propagate (the caller
// retries the message, so nothing accepted is lost).
IngestResult IngestNotification(const kafka::ConsumedMessage& message, StateStore& store,
                                kafka::DeadLetterWriter& dead_letters, TrackerMetrics& metrics,
                                const std::string& accept_prefix);

}  // namespace rainbow::state
