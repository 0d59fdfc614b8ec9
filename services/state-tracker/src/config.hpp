#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config/env.hpp"
#include "common/kafka/topic_settings.hpp"
#include "common/ops/service_main.hpp"
#include "common/s3/types.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// state-tracker's config, parsed once from env vars (README: Configuration).
struct TrackerConfig {
  ops::CommonConfig common;
  std::string kafka_brokers;
  kafka::TopicSettings topics;  // of files.events.dlq when the tracker creates it
  std::string redis_url;
  std::string redis_ca_file;  // REDIS_CA_FILE: for a rediss:// URL
  StoreOptions store;
  std::string events_topic;
  std::string state_topic;
  std::string consumer_group;
  std::string accept_prefix;
  std::chrono::milliseconds sweep_interval{};
  std::chrono::milliseconds default_lease{};
  int64_t redis_pool = 1;
  int64_t grpc_max_pollers = 0;
  bool require_durable_redis = true;
  std::chrono::milliseconds durability_check_interval{};
  std::chrono::milliseconds reconcile_interval{};  // 0: no reconciliation
  std::vector<std::string> reconcile_buckets;
  s3::S3Config s3;  // for reconciliation
  std::chrono::milliseconds redis_connect_timeout{};
  std::chrono::milliseconds redis_command_timeout{};
};

// Throws config::ConfigError naming the first missing or invalid var.
TrackerConfig LoadConfig(config::Env& env);

}  // namespace rainbow::state
