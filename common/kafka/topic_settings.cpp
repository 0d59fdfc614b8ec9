#include "common/kafka/topic_settings.hpp"

#include "common/config/env.hpp"

namespace rainbow::kafka {

TopicSettings LoadTopicSettings(config::Env& env) {
  TopicSettings s;
  s.replication_factor =
      static_cast<int>(env.Int("KAFKA_TOPIC_REPLICATION_FACTOR", s.replication_factor, 1, 32,
                               "replication factor of the topics this service creates (and their .dlq)"));
  s.min_insync_replicas = static_cast<int>(
      env.Int("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", s.min_insync_replicas, 1, 32,
              "min.insync.replicas of the topics this service creates: copies an acks=all write waits for"));
  if (!env.describing() && s.min_insync_replicas > s.replication_factor) {
    throw config::ConfigError("KAFKA_TOPIC_MIN_INSYNC_REPLICAS",
                              "KAFKA_TOPIC_MIN_INSYNC_REPLICAS (" + std::to_string(s.min_insync_replicas) +
                                  ") must not exceed KAFKA_TOPIC_REPLICATION_FACTOR (" +
                                  std::to_string(s.replication_factor) + ")");
  }
  return s;
}

}  // namespace rainbow::kafka
