#pragma once

#include <mutex>
#include <set>
#include <string>

#include "common/kafka/producer.hpp"
#include "common/kafka/topic_settings.hpp"
#include "common/kafka/types.hpp"

namespace rainbow::kafka {

// The dead-letter topic of a topic (shared/DESIGN.md: `<topic>.dlq`).
std::string DeadLetterTopic(const std::string& topic);

// Copies messages a consumer cannot process to `<topic>.dlq`. A missing dead-letter topic is created
// first (one partition, the service's TopicSettings: KAFKA_TOPIC_REPLICATION_FACTOR and
// KAFKA_TOPIC_MIN_INSYNC_REPLICAS), never left to the broker's auto-creation defaults.
// Owned by the service's wiring next to the producer it writes with (which must outlive it); Send may be
// called from any thread.
class DeadLetterWriter {
 public:
  DeadLetterWriter(Producer& producer, std::string brokers, TopicSettings settings, std::string service);

  // Same key, value and headers, plus headers naming the error and the origin (dlq.error, dlq.topic,
  // dlq.partition, dlq.offset, dlq.service); waits for the broker's ack: the caller commits the original
  // offset only after this returns. Throws KafkaError if the dead letter could not be written.
  void Send(const ConsumedMessage& message, const std::string& error);

 private:
  void EnsureTopicOnce(const std::string& topic);

  Producer& producer_;
  std::string brokers_;
  TopicSettings settings_;
  std::string service_;
  std::mutex mu_;
  std::set<std::string> topics_ready_;  // created (or found) already
};

}  // namespace rainbow::kafka
