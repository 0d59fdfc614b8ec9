#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/config/env.hpp"
#include "common/kafka/topic_settings.hpp"
#include "common/ops/service_main.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// state-tracker's config, parsed once from env vars (README: Configuration).
struct TrackerConfig {
  ops::CommonConfig common;
  std::string kafka_brokers;
  kafka::TopicSettings topics;  // of files.events.dlq when the tracker creates it
  std::string redis_url;
  StoreOptions store;
  std::string events_topic;
  std::string state_topic;
  std::string consumer_group;
  std::string accept_prefix;
  std::chrono::milliseconds sweep_interval{};
  std::chrono::milliseconds default_lease{};
  int64_t redis_pool = 1;
  int64_t grpc_max_pollers = 0;
};

// Throws config::ConfigError naming the first missing or invalid var.
TrackerConfig LoadConfig(config::Env& env);

}  // namespace rainbow::state
