#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/error/error.hpp"

namespace rainbow::state {

// One object record of a bucket notification: a creation (proto rainbow.events.v1.ObjectCreated) or a
// removal.
struct ObjectEvent {
  std::string event_name;  // e.g. s3:ObjectCreated:Put, s3:ObjectRemoved:Delete
  bool removed = false;    // s3:ObjectRemoved:*
  std::string bucket;
  std::string key;  // URL-decoded
  uint64_t size = 0;
  std::string etag;  // without quotes; may be empty for a removal
  // s3.object.sequencer: hex, larger = later event for the same key; empty when the sender omits it.
  std::string sequencer;
};

// A message on files.events that is not a bucket notification we understand; goes to the DLQ.
class NotificationError : public error::Error {
 public:
  explicit NotificationError(const std::string& message)
      : error::Error(message, error::Kind::kInvalidArgument) {}
};

// A well-formed S3 event sequencer: 1 to 64 hex digits.
bool IsSequencer(std::string_view s);

// Decodes a URL-query-escaped string: %XX -> byte, '+' -> space. Throws NotificationError on a bad
// escape.
std::string QueryUnescape(std::string_view s);

// Parses a MinIO/AWS bucket notification (shared/REFERENCE.md): {"EventName","Key","Records":[{
// "eventName","s3":{"bucket":{"name"},"object":{"key" (query-escaped),"size","eTag"}}}]}. Returns the
// s3:ObjectCreated:* and s3:ObjectRemoved:* records (others, e.g. s3:ObjectAccessed, are skipped).
// Throws NotificationError when the value is not JSON, has no Records array, a record lacks bucket
// name or key, a creation lacks its eTag, or a sequencer is not a hex string.
std::vector<ObjectEvent> ParseBucketNotification(std::string_view value);

}  // namespace rainbow::state
