#pragma once

#include <chrono>
#include <string>

namespace rainbow::kafka {

// Creates a topic if it does not exist (an existing topic is success, whatever its partition count).
// Throws KafkaError when the broker cannot be reached within the timeout or refuses.
void EnsureTopic(const std::string& brokers, const std::string& topic, int partitions, int replication_factor,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(30'000));

// The number of partitions of a topic, or 0 if the topic does not exist.
int PartitionCount(const std::string& brokers, const std::string& topic,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));

}  // namespace rainbow::kafka
