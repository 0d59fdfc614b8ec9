#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/error/error.hpp"

namespace rainbow::kafka {

// (topic, partition)
using TopicPartition = std::pair<std::string, int32_t>;

struct Header {
  std::string key;
  std::optional<std::string> value;
};

// A message to produce. No key = null key; no value = tombstone (null value).
struct OutgoingMessage {
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  std::optional<int32_t> partition;  // unset: the partitioner decides from the key
};

// What the broker said about one produced message.
struct DeliveryReport {
  bool ok = false;
  std::string error;       // empty when ok
  bool retriable = false;  // a later retry may succeed (e.g. timed out while the broker was down)
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
};

struct ConsumedMessage {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  int64_t timestamp_ms = -1;

  // The value of the first header with this key, if any.
  std::optional<std::string> HeaderValue(const std::string& key) const;
};

// An error from librdkafka, with its error code name (e.g. "_MSG_TIMED_OUT"). Its kind() is
// error::Kind::kRetryable when a later retry may succeed (librdkafka says so), else kPermanent.
class KafkaError : public error::Error {
 public:
  KafkaError(const std::string& message, std::string code, bool retriable)
      : error::Error(message, retriable ? error::Kind::kRetryable : error::Kind::kPermanent),
        code_(std::move(code)) {}
  const std::string& code() const { return code_; }
  bool retriable() const { return kind() == error::Kind::kRetryable; }

 private:
  std::string code_;
};

}  // namespace rainbow::kafka
