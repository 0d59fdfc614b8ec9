#pragma once

#include <string>

namespace rainbow::config {
class Env;
}

namespace rainbow::kafka {

// How the topics a service creates are replicated (its own topics and every <topic>.dlq). With acks=all
// a write is acknowledged once min.insync.replicas copies hold it; a replication factor of 1 would make
// that one copy. The single-broker local stack sets both to 1.
struct TopicSettings {
  int replication_factor = 3;   // KAFKA_TOPIC_REPLICATION_FACTOR
  int min_insync_replicas = 2;  // KAFKA_TOPIC_MIN_INSYNC_REPLICAS (0 = leave the broker's default)
};

// Reads KAFKA_TOPIC_REPLICATION_FACTOR and KAFKA_TOPIC_MIN_INSYNC_REPLICAS (shared by every service that
// creates topics); min.insync.replicas above the replication factor is a config error.
TopicSettings LoadTopicSettings(config::Env& env);

}  // namespace rainbow::kafka
