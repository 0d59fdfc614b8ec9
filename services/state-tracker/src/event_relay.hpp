#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/kafka/producer.hpp"
#include "common/redis/client.hpp"

namespace rainbow::state {

// Moves files.state events from the Redis outbox stream (`<prefix>outbox`, written by the transition
// scripts themselves, so an event exists exactly when its transition committed) to Kafka: at least
// once, even when a tracker dies between the transition and the publish.
// Every tracker runs one relay; they share the consumer group "relay" on the stream, so each entry is
// read by one relay, published (key "bucket/key"), and acknowledged + deleted only after Kafka acked it.
// Entries a dead relay read but never acknowledged are taken over after `reclaim_idle` (XAUTOCLAIM).
// Ordering: one relay publishes in stream order; with several trackers a file's events may reach
// Kafka from different relays, so consumers order by (attempt, ts_ms) if they care.
// Kafka away longer than the flush timeout: the batch's delivery reports may come later; they share
// ownership of the batch, so nothing they touch is freed (undelivered entries are retried by Reclaim).
// Threading: one thread (owns its Redis connection; blocking reads).
class EventRelay {
 public:
  EventRelay(redis::RedisConfig redis, std::string prefix, kafka::Producer& producer, std::string topic,
             std::string consumer_name, std::chrono::milliseconds reclaim_idle = std::chrono::seconds(30),
             std::chrono::milliseconds flush_timeout = std::chrono::seconds(30));

  // Publishes the next batch (waiting up to `block` for one); returns how many were acknowledged.
  size_t RunOnce(std::chrono::milliseconds block);
  // Takes over entries other relays read but did not acknowledge for reclaim_idle, and publishes them.
  size_t Reclaim();
  // Reclaim, when the last one is more than `every` ago (the first one `every` after construction).
  size_t ReclaimIfDue(std::chrono::milliseconds every);

 private:
  void EnsureGroup();
  // A command on the group; NOGROUP recreates the group and runs it once more.
  redis::Reply GroupCommand(const std::vector<std::string>& args);
  size_t Publish(const redis::Reply& entries);

  redis::Client redis_;
  std::string stream_;
  kafka::Producer& producer_;
  std::string topic_;
  std::string consumer_;
  std::chrono::milliseconds reclaim_idle_;
  std::chrono::milliseconds flush_timeout_;  // a batch's wait for Kafka; late reports still land safely
  bool group_ready_ = false;
  std::chrono::steady_clock::time_point last_reclaim_ = std::chrono::steady_clock::now();
};

}  // namespace rainbow::state
