#pragma once

// Produces Debezium-shaped change events the way cdc-producer writes them (plain JSON form): the
// loader tests' source of events. One per test; Emit from the test's thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/kafka/producer.hpp"

namespace rainbow::loader::testing {

class ChangeEventEmitter {
 public:
  // Topics are `<prefix>.<table>`.
  ChangeEventEmitter(const std::string& brokers, std::string prefix)
      : prefix_(std::move(prefix)),
        producer_(std::make_unique<kafka::Producer>(kafka::ProducerConfig{brokers, "loader-test"})) {}

  std::string Topic(const std::string& table) const { return prefix_ + "." + table; }

  // A change event (key = the key columns; a delete is followed by a tombstone), source.lsn increasing.
  void Emit(const std::string& table, char op, const nlohmann::json& key, const nlohmann::json& row,
            int64_t ts_ms) {
    const nlohmann::json v = {{"before", op == 'd' ? row : nlohmann::json()},
                              {"after", op == 'd' ? nlohmann::json() : row},
                              {"source",
                               {{"version", "test"},
                                {"connector", "postgresql"},
                                {"ts_ms", ts_ms},
                                {"table", table},
                                {"lsn", ++lsn_},
                                {"db", "rainbow"},
                                {"schema", "rainbow"}}},
                              {"op", std::string(1, op)},
                              {"ts_ms", ts_ms}};
    Send(Topic(table), key.dump(), v.dump());
    if (op == 'd') Send(Topic(table), key.dump(), std::nullopt);
  }

  void Send(const std::string& topic, std::optional<std::string> key, std::optional<std::string> value) {
    kafka::OutgoingMessage m{topic, std::move(key), std::move(value)};
    producer_->Produce(m, [this](const kafka::DeliveryReport& r) {
      if (!r.ok) failures_++;
    });
  }

  // Waits for every event's ack; fails the test on a delivery failure.
  void Flush() {
    ASSERT_TRUE(producer_->Flush(std::chrono::seconds(30)));
    ASSERT_EQ(failures_.load(), 0);
  }

 private:
  std::string prefix_;
  std::unique_ptr<kafka::Producer> producer_;
  int64_t lsn_ = 1000;
  std::atomic<int> failures_{0};
};

}  // namespace rainbow::loader::testing
