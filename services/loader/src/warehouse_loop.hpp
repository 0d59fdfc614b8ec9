#pragma once

#include <map>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "common/kafka/consumer.hpp"
#include "common/kafka/dead_letter.hpp"
#include "common/pg/connection.hpp"
#include "services/loader/src/change_event.hpp"
#include "services/loader/src/config.hpp"
#include "services/loader/src/metrics.hpp"
#include "services/loader/src/status.hpp"
#include "services/loader/src/warehouse_writer.hpp"

namespace rainbow::loader {

// The warehouse sink: consumes the change-event topics as group LOADER_GROUP and writes each batch
// (bounded by count, bytes and time) in one PostgreSQL transaction together with the partitions' next
// offsets, so a batch is applied exactly once whatever crashes. On assignment each partition starts
// at its stored offset; a batch whose stored start moved (another member got there first) is rolled
// back and re-read from the stored offset. Poison messages go to `<topic>.dlq` (before the commit
// that skips them). Transient database or Kafka errors retry the same batch with backoff.
//
// Owned by main; RunOnce is called by one thread in a loop until stop.
class WarehouseLoop {
 public:
  WarehouseLoop(const LoaderConfig& config, kafka::DeadLetterWriter& dlq, LoaderMetrics& metrics,
                LoaderStatus& status);
  ~WarehouseLoop();

  // Collects one batch and writes it (retrying until it is written or `stop` is requested; a batch
  // not committed at stop is simply read again by whoever owns the partitions next).
  void RunOnce(std::stop_token stop);
  // Leaves the group (partitions move to the other members at once).
  void Close();

 private:
  struct Poison {
    size_t message;  // index into pending_
    std::string error;
  };
  void Collect(std::stop_token stop);
  // One attempt to write pending_; false if it must be retried.
  enum class Attempt { kCommitted, kRetry, kFenced };
  Attempt Write(std::vector<ChangeEvent>& events, std::vector<size_t>& event_message,
                std::vector<Poison>& poison);
  void WriteDeadLetters(const std::vector<Poison>& poison);
  pg::Connection& Db();
  std::map<kafka::TopicPartition, int64_t> StartOffsets(const std::vector<kafka::TopicPartition>& parts);
  void SeekToStored();
  void ReportLag();

  const LoaderConfig& config_;
  kafka::DeadLetterWriter& dlq_;
  LoaderMetrics& metrics_;
  LoaderStatus& status_;
  std::unique_ptr<pg::Connection> db_;
  std::unique_ptr<WarehouseWriter> writer_;
  std::vector<kafka::ConsumedMessage> pending_;
  std::unique_ptr<kafka::Consumer> consumer_;  // last: its callbacks use the members above
};

}  // namespace rainbow::loader
