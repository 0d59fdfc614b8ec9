#pragma once

#include <chrono>
#include <string>

#include "common/kafka/topic_settings.hpp"

namespace rainbow::kafka {

// Creates a topic if it does not exist (an existing topic is success, whatever its partition count or
// settings), with the settings' replication factor and, when set, its min.insync.replicas.
// Throws KafkaError when the broker cannot be reached within the timeout or refuses.
void EnsureTopic(const std::string& brokers, const std::string& topic, int partitions,
                 const TopicSettings& settings,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(30'000));
// The same with a replication factor alone (min.insync.replicas left to the broker): for tests' own topics.
void EnsureTopic(const std::string& brokers, const std::string& topic, int partitions, int replication_factor,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(30'000));

// How an existing topic is replicated: the replica count of its first partition and the
// min.insync.replicas set on the topic itself (0 when it follows the broker's default). Throws KafkaError
// if the topic does not exist.
TopicSettings DescribeTopicSettings(const std::string& brokers, const std::string& topic,
                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));

// The number of partitions of a topic, or 0 if the topic does not exist.
int PartitionCount(const std::string& brokers, const std::string& topic,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));

}  // namespace rainbow::kafka
