#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config/env.hpp"
#include "common/kafka/topic_settings.hpp"
#include "common/ops/service_main.hpp"
#include "common/pg/timeouts.hpp"
#include "services/cdc-producer/src/event_builder.hpp"

namespace rainbow::cdc {

enum class SnapshotMode { kInitial, kNever, kAlways };
// What an event larger than CDC_MAX_MESSAGE_BYTES does (Debezium: event.processing.failure.handling.mode):
// fail = the session stops on it, not ready with the reason, and retries (the slot holds WAL meanwhile);
// skip = a dead-letter record (key, headers naming the event, no value) on <topic>.dlq stands in for it;
// warn = it is logged and left out.
enum class SizePolicy { kFail, kSkip, kWarn };

// Everything cdc-producer reads from env vars, parsed once at start (see README.md for the table).
struct CdcConfig {
  ops::CommonConfig common;
  std::string pg_dsn;
  pg::Timeouts pg_timeouts;  // PG_CONNECT_TIMEOUT, PG_STATEMENT_TIMEOUT, ... (common/pg)
  std::string kafka_brokers;
  std::string slot = "rainbow_cdc";
  std::string publication = "rainbow_cdc";
  std::vector<std::string> schemas{"rainbow"};     // publication FOR TABLES IN SCHEMA ... (when tables empty)
  std::vector<std::string> tables;                 // schema.table list: publication FOR TABLE ...
  std::vector<std::string> replica_identity_full;  // tables set to REPLICA IDENTITY FULL at start ("*" = all)
  std::string topic_prefix = "rainbow.public";
  int topic_partitions = 3;
  kafka::TopicSettings topics;  // replication and min.insync.replicas of the topics it creates (and .dlq)
  int64_t max_message_bytes = 1'000'000;  // key + value; librdkafka's and Kafka's default limit
  SizePolicy size_policy = SizePolicy::kFail;
  SnapshotMode snapshot_mode = SnapshotMode::kInitial;
  int snapshot_fetch_rows = 10'000;
  WireFormat key_format = WireFormat::kJsonSchemas;    // CDC_KEY_FORMAT
  WireFormat value_format = WireFormat::kJsonSchemas;  // CDC_VALUE_FORMAT
  DecimalMode decimal_mode = DecimalMode::kString;     // CDC_DECIMAL_HANDLING_MODE
  bool tombstones = true;
  bool truncate_events = true;
  std::chrono::milliseconds heartbeat_interval{10'000};
  std::chrono::milliseconds status_interval{1'000};
  std::chrono::milliseconds kafka_message_timeout{120'000};
  std::chrono::milliseconds kafka_linger{5};
  std::chrono::milliseconds reconnect_max_backoff{10'000};
  std::chrono::milliseconds shutdown_timeout{30'000};
  std::string state_schema = "rainbow_cdc";  // where the snapshot marker table lives
  // Test hook (fault injection): the n-th pgoutput message this process receives is decoded truncated by
  // one byte, as a corrupt message would arrive. 0 = off. Lets tests prove the clean stop on bad bytes.
  int64_t fault_corrupt_message = 0;
};

CdcConfig LoadConfig(config::Env& env);

// "a, b,c" -> {"a","b","c"}; empty items dropped.
std::vector<std::string> SplitList(const std::string& text);

}  // namespace rainbow::cdc
