#include "services/order-api/src/config.hpp"

namespace rainbow::order {

OrderApiConfig LoadConfig(config::Env& env) {
  OrderApiConfig c;
  c.common = ops::LoadCommonConfig(env, "127.0.0.1:50051", "127.0.0.1:8081");
  c.pg_dsn = env.RequireSecret("PG_DSN", "libpq connection string of the OLTP database");
  c.pg_timeouts = pg::TimeoutsFromEnv(env);
  c.rest_addr = env.String("ORDER_API_REST_ADDR", "127.0.0.1:8080", "REST listen address host:port");
  c.pool_size = static_cast<int>(env.Int("ORDER_API_PG_POOL_SIZE", 16, 1, 512, "PostgreSQL connections"));
  c.create_loop_connections =
      static_cast<int>(env.Int("ORDER_API_CREATE_LOOP_CONNECTIONS", c.pool_size, 1, 512,
                               "PostgreSQL connections of gRPC CreateOrder's event loop, besides the pool "
                               "(default: the pool's size)"));
  c.grpc_create_queue = static_cast<int>(
      env.Int("ORDER_API_GRPC_CREATE_QUEUE", 1024, 1, 1'000'000,
              "most gRPC CreateOrder calls in progress at once (queued for or running their statement); "
              "beyond it a call is answered RESOURCE_EXHAUSTED"));
  c.rest_threads = static_cast<int>(env.Int("ORDER_API_REST_THREADS", 64, 1, 1024,
                                            "REST worker threads (each serves one connection at a time)"));
  c.rest_max_in_flight = static_cast<int>(
      env.Int("ORDER_API_REST_MAX_IN_FLIGHT", 32, 1, 1024,
              "REST requests handled at once; beyond it a request is answered 429 with Retry-After"));
  c.max_body_bytes = static_cast<size_t>(
      env.Int("ORDER_API_MAX_BODY_BYTES", 64 * 1024, 256, 16 * 1024 * 1024, "largest POST body"));
  c.access_log = env.Bool("ORDER_API_ACCESS_LOG", true, "log one JSON line per REST request and gRPC call");
  c.migrate = env.Bool("ORDER_API_MIGRATE", true, "apply the schema migrations at start");
  c.limits.max_lines =
      static_cast<int>(env.Int("ORDER_API_MAX_LINES", 100, 1, 10'000, "most lines per order"));
  c.limits.max_quantity =
      static_cast<int>(env.Int("ORDER_API_MAX_QUANTITY", 10'000, 1, 1'000'000, "largest quantity per line"));
  // Totals are summed in int64 cents and a price is at most 10^12 cents (numeric(12, 2)), so one
  // order may hold at most 9,000,000 units in all; a configuration allowing more is refused here,
  // before a total could overflow.
  constexpr int64_t kMostUnitsPerOrder = 9'000'000;
  if (!env.describing() && int64_t{c.limits.max_lines} * c.limits.max_quantity > kMostUnitsPerOrder) {
    throw config::ConfigError("ORDER_API_MAX_QUANTITY",
                              "config: ORDER_API_MAX_LINES x ORDER_API_MAX_QUANTITY = " +
                                  std::to_string(int64_t{c.limits.max_lines} * c.limits.max_quantity) +
                                  " exceeds " + std::to_string(kMostUnitsPerOrder) +
                                  " units per order (order totals would overflow)");
  }
  return c;
}

}  // namespace rainbow::order
