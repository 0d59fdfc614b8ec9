#pragma once

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>

#include "common/kafka/consumer.hpp"
#include "common/kafka/dead_letter.hpp"
#include "services/state-tracker/src/ingest.hpp"
#include "services/state-tracker/src/redis_durability.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// files.events -> Register, a batch at a time: what one poll brings (up to `batch` messages) is handled
// in order, and the batch's offsets are committed together once each of its messages was registered
// (or dead-lettered). A Redis failure retries the same message (with backoff, until stop), so nothing
// is lost. One commit per batch, not per message: a synchronous commit is a broker round trip, and per
// message it made a new consumer group replay a backlog at a few hundred messages a second.
// Durability: nothing is polled while `durability` says Redis may lose acknowledged writes, and it is
// asked again right before each commit; a batch whose check fails is not committed (its messages come
// again after a restart or rebalance; Register is idempotent).
// Threading: one thread (the Kafka consumer's); built on it, driven by ops::RunUntilStopped.
class NotificationConsumer {
 public:
  struct Options {
    std::string brokers;
    std::string group;
    std::string topic;
    std::string accept_prefix;  // see IngestNotification
    size_t batch = 500;
  };

  NotificationConsumer(const Options& options, StateStore& store, kafka::DeadLetterWriter& dead_letters,
                       TrackerMetrics& metrics, RedisDurabilityCheck& durability);
  ~NotificationConsumer();
  NotificationConsumer(const NotificationConsumer&) = delete;
  NotificationConsumer& operator=(const NotificationConsumer&) = delete;

  // One batch: polls (waiting up to `wait` for the first message), handles, commits. Returns how many
  // messages were handled. Throws when the poll fails before any message came.
  size_t RunOnce(std::stop_token stop, std::chrono::milliseconds wait);

 private:
  Options options_;
  StateStore& store_;
  kafka::DeadLetterWriter& dead_letters_;
  TrackerMetrics& metrics_;
  RedisDurabilityCheck& durability_;
  kafka::Consumer consumer_;
};

}  // namespace rainbow::state
