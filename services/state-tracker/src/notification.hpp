#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rainbow::state {

// One object-created record of a bucket notification (proto rainbow.events.v1.ObjectCreated).
struct ObjectCreated {
  std::string event_name;  // e.g. s3:ObjectCreated:Put
  std::string bucket;
  std::string key;  // URL-decoded
  uint64_t size = 0;
  std::string etag;  // without quotes
};

// A message on files.events that is not a bucket notification we understand; goes to the DLQ.
class NotificationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decodes a URL-query-escaped string: %XX -> byte, '+' -> space. Throws NotificationError on a bad
// escape.
std::string QueryUnescape(std::string_view s);

// Parses a MinIO/AWS bucket notification (shared/REFERENCE.md): {"EventName","Key","Records":[{
// "eventName","s3":{"bucket":{"name"},"object":{"key" (query-escaped),"size","eTag"}}}]}. Returns the
// s3:ObjectCreated:* records (others, e.g. removals, are skipped). Throws NotificationError when the
// value is not JSON, has no Records array, or a record lacks bucket name, key or eTag.
std::vector<ObjectCreated> ParseBucketNotification(std::string_view value);

}  // namespace rainbow::state
