#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/kafka/types.hpp"

namespace RdKafka {
class Producer;
}

namespace rainbow::kafka {

struct ProducerConfig {
  std::string brokers;  // KAFKA_BROKERS
  std::string client_id = "rainbow";
  // Bounds how long a message may wait for a broker before its delivery report fails; this is what
  // turns "broker down" into an error instead of a hang.
  std::chrono::milliseconds message_timeout{30'000};
  std::chrono::milliseconds linger{5};
  // Extra librdkafka properties (override the defaults above and below).
  std::map<std::string, std::string> properties;
};

using DeliveryCallback = std::function<void(const DeliveryReport&)>;

// An idempotent producer (enable.idempotence=true, acks=all): no duplicates or reordering from
// internal retries. Delivery reports are served by an owned poll thread, which runs the callbacks:
// keep them short and thread-safe. Produce and Flush may be called from any thread. The destructor
// flushes for up to message_timeout, then drops what is left (reported as failed).
class Producer {
 public:
  explicit Producer(ProducerConfig config);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues a message; `on_delivery` runs once when the broker acked it or it failed for good.
  // Waits (polling) while the local queue is full, up to message_timeout; then throws KafkaError.
  void Produce(const OutgoingMessage& message, DeliveryCallback on_delivery = {});
  // Produce and wait for this message's report.
  DeliveryReport ProduceSync(const OutgoingMessage& message);
  // Waits until every enqueued message has a report; false on timeout.
  bool Flush(std::chrono::milliseconds timeout);
  // Messages enqueued and not yet reported.
  int InFlight() const;

  RdKafka::Producer* raw() { return producer_.get(); }

 private:
  class DeliveryDispatcher;
  ProducerConfig config_;
  std::unique_ptr<DeliveryDispatcher> dispatcher_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace rainbow::kafka
