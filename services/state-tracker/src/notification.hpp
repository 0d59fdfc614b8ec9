#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/error/error.hpp"

namespace rainbow::state {

// One object-created record of a bucket notification (proto rainbow.events.v1.ObjectCreated).
struct ObjectCreated {
  std::string event_name;  // e.g. s3:ObjectCreated:Put
  std::string bucket;
  std::string key;  // URL-decoded
  uint64_t size = 0;
  std::string etag;  // without quotes
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
// s3:ObjectCreated:* records (others, e.g. removals, are skipped). Throws NotificationError when the
// value is not JSON, has no Records array, a record lacks bucket name, key or eTag, or its sequencer
// is not a hex string.
std::vector<ObjectCreated> ParseBucketNotification(std::string_view value);

}  // namespace rainbow::state
