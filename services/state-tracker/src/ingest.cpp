#include "services/state-tracker/src/ingest.hpp"

#include <vector>

#include "common/kafka/dead_letter.hpp"
#include "common/logging/log.hpp"
#include "services/state-tracker/src/notification.hpp"

namespace rainbow::state {

IngestResult IngestNotification(const kafka::ConsumedMessage& message, StateStore& store,
                                kafka::DeadLetterWriter& dead_letters, TrackerMetrics& metrics,
                                const std::string& accept_prefix) {
  std::vector<ObjectEvent> objects;
  try {
    if (!message.value) throw NotificationError("null value (tombstone)");
    objects = ParseBucketNotification(*message.value);
  } catch (const NotificationError& e) {
    log::Warn("bad notification, dead-lettered", {{"topic", message.topic},
                                                  {"partition", message.partition},
                                                  {"offset", message.offset},
                                                  {"error", e.what()}});
    dead_letters.Send(message, e.what());
    metrics.notifications.Get({"dead_lettered"}).Increment();
    return IngestResult::kDeadLettered;
  }
  IngestResult result = IngestResult::kSkipped;
  for (const auto& o : objects) {
    if (!accept_prefix.empty() && FileId(o.bucket, o.key).rfind(accept_prefix, 0) != 0) continue;
    if (o.removed) {
      const auto gone = store.Remove(o.bucket, o.key, o.sequencer);
      if (gone && gone->moved) {
        ReportTransition(gone->record, metrics, "source object removed");
        if (result != IngestResult::kRegistered) result = IngestResult::kRemoved;
      }
      continue;  // a removal of a key never registered, or already converted, changes nothing
    }
    const auto reg = store.Register(o.bucket, o.key, o.etag, o.size, o.sequencer);
    if (reg.created) {
      ReportTransition(reg.record, metrics, "registered");
      result = IngestResult::kRegistered;
    } else if (result == IngestResult::kSkipped) {
      result = IngestResult::kDuplicate;
    }
  }
  const char* label = result == IngestResult::kRegistered  ? "registered"
                      : result == IngestResult::kRemoved   ? "removed"
                      : result == IngestResult::kDuplicate ? "duplicate"
                                                           : "skipped";
  metrics.notifications.Get({label}).Increment();
  return result;
}

}  // namespace rainbow::state
