#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/config/env.hpp"
#include "common/kafka/topic_settings.hpp"
#include "common/ops/service_main.hpp"
#include "common/pg/timeouts.hpp"
#include "common/s3/types.hpp"
#include "services/loader/src/clickhouse_client.hpp"

namespace rainbow::loader {

// Bounds of one batch: whichever is reached first closes it.
struct BatchLimits {
  int64_t max_events = 5'000;
  int64_t max_bytes = 16 * 1024 * 1024;
  std::chrono::milliseconds max_wait{200};
};

struct LakeConfig {
  bool enabled = true;
  std::string bucket = "lake";
  std::string group = "loader-lake";
  int64_t window = 10'000;  // offsets per lake object window (per partition)
  std::chrono::milliseconds flush_interval{5'000};
};

struct LoaderConfig {
  ops::CommonConfig common;
  std::string kafka_brokers;
  std::string source_dsn;     // PG_DSN: the OLTP database (Reconcile reads it)
  std::string warehouse_dsn;  // LOADER_WAREHOUSE_DSN, default PG_DSN
  pg::Timeouts pg_timeouts;   // PG_CONNECT_TIMEOUT, PG_STATEMENT_TIMEOUT, ... (common/pg), both databases
  std::string source_schema = "rainbow";
  std::string topic_pattern;  // a regex (librdkafka: starts with '^')
  std::string group = "loader";
  BatchLimits batch;
  bool migrate = true;
  bool model = true;            // false: staging only (no dimensions or facts)
  kafka::TopicSettings topics;  // of the <topic>.dlq topics the loader creates
  s3::S3Config s3;
  LakeConfig lake;
  ClickHouseConfig clickhouse;  // url empty: the serving layer is off
};

LoaderConfig LoadConfig(config::Env& env);

}  // namespace rainbow::loader
