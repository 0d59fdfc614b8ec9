#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/kafka/types.hpp"

namespace rainbow::loader {

struct PartitionProgress {
  int64_t committed = -1;  // next offset stored with the warehouse rows
  int64_t end = -1;        // the partition's end as last seen
};

// What GetStatus and /readyz report, shared between the loops (writers) and the gRPC service (reader).
// Thread-safe.
class LoaderStatus {
 public:
  struct Snapshot {
    std::map<kafka::TopicPartition, PartitionProgress> partitions;
    uint64_t events_loaded = 0;
    uint64_t fact_rows = 0;
    uint64_t dead_lettered = 0;
    uint64_t lake_events = 0;
    std::string last_error;
    int64_t last_batch_events = 0;
    double last_batch_seconds = 0;
    double last_batch_max_freshness_seconds = 0;
    int64_t last_batch_unix_ms = 0;
    double events_per_second = 0;  // over the recent batches
    bool warehouse_ok = false;
    bool lake_ok = true;
    // The serving layer (ClickHouse): on when configured; ok from its last successful round until a
    // failure; rows copied; how many warehouse versions it is behind (as of its last round).
    bool clickhouse_enabled = false;
    bool clickhouse_ok = false;
    uint64_t clickhouse_rows = 0;
    int64_t clickhouse_versions_behind = -1;
  };

  void Committed(const std::map<kafka::TopicPartition, int64_t>& next, int64_t events, int64_t facts,
                 int64_t dead, double seconds, double max_freshness);
  // The offsets the warehouse holds for partitions just assigned (lag is known before any batch).
  void Assigned(const std::map<kafka::TopicPartition, int64_t>& stored);
  void EndOffset(const kafka::TopicPartition& p, int64_t end);
  void Revoked(const kafka::TopicPartition& p);
  void Error(const std::string& sink, const std::string& error);
  void LakeWritten(int64_t events);
  void WarehouseOk();
  void ClickHouseEnabled();
  void ClickHouseCopied(int64_t rows, int64_t versions_behind);
  Snapshot Get() const;

 private:
  mutable std::mutex mu_;
  Snapshot s_;
  std::chrono::steady_clock::time_point rate_since_ = std::chrono::steady_clock::now();
  int64_t rate_events_ = 0;
};

}  // namespace rainbow::loader
