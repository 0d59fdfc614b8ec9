#include "services/order-api/src/config.hpp"

namespace rainbow::order {

OrderApiConfig LoadConfig(config::Env& env) {
  OrderApiConfig c;
  c.common = ops::LoadCommonConfig(env, "127.0.0.1:50051", "127.0.0.1:8081");
  c.pg_dsn = env.RequireSecret("PG_DSN", "libpq connection string of the OLTP database");
  c.rest_addr = env.String("ORDER_API_REST_ADDR", "127.0.0.1:8080", "REST listen address host:port");
  c.pool_size = static_cast<int>(env.Int("ORDER_API_PG_POOL_SIZE", 16, 1, 512, "PostgreSQL connections"));
  c.rest_threads = static_cast<int>(env.Int("ORDER_API_REST_THREADS", 16, 1, 1024, "REST worker threads"));
  c.max_body_bytes = static_cast<size_t>(
      env.Int("ORDER_API_MAX_BODY_BYTES", 64 * 1024, 256, 16 * 1024 * 1024, "largest POST body"));
  c.access_log = env.Bool("ORDER_API_ACCESS_LOG", true, "log one JSON line per REST request and gRPC call");
  c.migrate = env.Bool("ORDER_API_MIGRATE", true, "apply the schema migrations at start");
  c.limits.max_lines =
      static_cast<int>(env.Int("ORDER_API_MAX_LINES", 100, 1, 10'000, "most lines per order"));
  c.limits.max_quantity =
      static_cast<int>(env.Int("ORDER_API_MAX_QUANTITY", 10'000, 1, 1'000'000, "largest quantity per line"));
  return c;
}

}  // namespace rainbow::order
