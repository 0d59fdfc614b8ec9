#pragma once

#include <string>

#include "common/config/env.hpp"
#include "common/ops/service_main.hpp"
#include "common/pg/timeouts.hpp"
#include "services/order-api/src/validation.hpp"

namespace rainbow::order {

struct OrderApiConfig {
  ops::CommonConfig common;
  std::string pg_dsn;
  pg::Timeouts pg_timeouts;  // PG_CONNECT_TIMEOUT, PG_STATEMENT_TIMEOUT, ... (common/pg)
  std::string rest_addr;
  int pool_size = 16;
  int create_loop_connections = 16;  // gRPC CreateOrder's event loop; defaults to pool_size
  int grpc_create_queue = 1024;      // gRPC CreateOrder calls in progress at once
  int rest_threads = 64;
  int rest_max_in_flight = 32;
  size_t max_body_bytes = 64 * 1024;
  bool access_log = true;
  bool migrate = true;
  Limits limits;
};

OrderApiConfig LoadConfig(config::Env& env);

}  // namespace rainbow::order
