#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/kafka/types.hpp"

namespace RdKafka {
class KafkaConsumer;
}

namespace rainbow::kafka {

struct ConsumerConfig {
  std::string brokers;
  std::string group_id;
  std::vector<std::string> topics;  // names, or regexes starting with '^'
  std::string client_id = "rainbow";
  std::string offset_reset = "earliest";  // where a new group starts
  // Instead of subscribing as a group member: read every partition of `topics` (names, not regexes)
  // from its end as of construction, so exactly what is produced after the constructor returned is
  // seen, however long the history. Nothing is committed (Commit must not be called).
  bool tail = false;
  std::map<std::string, std::string> properties;
  // Group mode only, both called from Poll on the polling thread. on_assign gets the partitions the
  // group just gave this member and returns where to start each one (a partition left out starts at
  // the group's committed offset, else at offset_reset): for a consumer that keeps its offsets
  // elsewhere (e.g. in the same database transaction as its output). on_revoke gets the partitions
  // taken away, before another member can start on them.
  std::function<std::map<TopicPartition, int64_t>(const std::vector<TopicPartition>&)> on_assign;
  std::function<void(const std::vector<TopicPartition>&)> on_revoke;
};

// A group consumer with manual commits only (enable.auto.commit=false): an offset is committed after
// the caller has durably handled the message, never before. One thread at a time; Close() (or the
// destructor) leaves the group cleanly so partitions move to other members at once.
class Consumer {
 public:
  explicit Consumer(ConsumerConfig config);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // The next message, or nullopt when none arrived within the timeout. Transient errors (a broker
  // restarting) are logged and give nullopt; fatal ones throw KafkaError.
  std::optional<ConsumedMessage> Poll(std::chrono::milliseconds timeout);
  // Synchronously commits message.offset + 1 for its partition.
  void Commit(const ConsumedMessage& message);
  // Synchronously commits the given next-offsets (topic, partition) -> offset to read next.
  void Commit(const std::map<std::pair<std::string, int32_t>, int64_t>& next_offsets);
  // The committed next-offset of a partition of this group, or nullopt if none.
  std::optional<int64_t> Committed(const std::string& topic, int32_t partition);
  // Moves an assigned partition's position: its next Poll returns `offset` first.
  void Seek(const TopicPartition& partition, int64_t offset);
  // The partitions assigned to this member now.
  std::vector<TopicPartition> Assignment();
  // The partition's end offset as last seen by the client (no broker round trip); nullopt if unknown.
  std::optional<int64_t> CachedEndOffset(const TopicPartition& partition);
  void Close();

 private:
  class Rebalancer;
  void AssignAtEnd();

  ConsumerConfig config_;
  std::unique_ptr<Rebalancer> rebalancer_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool closed_ = false;
};

}  // namespace rainbow::kafka
