// order-api: wiring only (the logic is in src/). Starts the REST and gRPC servers over one
// OrderService, applies the migrations first, serves /metrics /healthz /readyz, drains on SIGTERM.
#include <atomic>

#include "common/grpc/grpc_server.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/service_main.hpp"
#include "common/retry/backoff.hpp"
#include "services/order-api/src/config.hpp"
#include "services/order-api/src/grpc_service.hpp"
#include "services/order-api/src/migrations.hpp"
#include "services/order-api/src/rest_server.hpp"

#ifndef RAINBOW_VERSION
#define RAINBOW_VERSION "dev"
#endif

namespace {

using namespace rainbow;

constexpr const char* kMigrationHistory = "rainbow.schema_migrations";

// Applies the migrations, retrying while the database is not reachable yet (containers start in any
// order); a failing migration itself is fatal.
void Migrate(const std::string& dsn) {
  retry::Backoff backoff({std::chrono::milliseconds(200), std::chrono::milliseconds(5'000), 2.0, 30});
  for (;;) {
    try {
      pg::Connection conn(dsn);
      const auto applied =
          pg::ApplyMigrations(conn, kMigrationHistory, "rainbow.order-api.migrations", order::Migrations());
      log::Info("migrations applied", {{"applied", applied}, {"known", order::Migrations().size()}});
      return;
    } catch (const pg::PgError& e) {
      if (e.kind() != pg::ErrorKind::kRetryable || !backoff.CanRetry()) throw;
      const auto delay = backoff.NextDelay();
      log::Warn("database not reachable, retrying", {{"error", e.what()}, {"retry_in_ms", delay.count()}});
      std::this_thread::sleep_for(delay);
    }
  }
}

int Run(const order::OrderApiConfig& c) {
  auto registry = ops::MetricsRegistry();
  order::OrderMetrics metrics(*registry);
  // Set once the schema was found complete; never reset (migrations are not undone under us).
  std::atomic<bool> migrated{false};
  // Set at SIGTERM: not ready any more, so load balancers stop sending while requests drain.
  std::atomic<bool> draining{false};
  pg::Pool pool({c.pg_dsn, c.pool_size, std::chrono::milliseconds(5'000), order::OrderStore::Statements()});
  ops::AddScrapeHook([&] { metrics.ObservePool(pool.Stats()); });

  // Ready only when the database answers and every migration this binary knows is recorded there,
  // whether this replica applied them or another one did (ORDER_API_MIGRATE=false).
  ops::OpsHttpServer ops_http(c.common.http_addr, registry, [&]() -> std::string {
    if (draining) return "shutting down";
    try {
      auto conn = pool.Acquire();
      if (!migrated) {
        const auto pending = pg::PendingMigrations(*conn, kMigrationHistory, order::Migrations());
        if (!pending.empty()) {
          return "schema not migrated: " + std::to_string(pending.size()) +
                 " migration(s) pending, from version " + std::to_string(pending.front());
        }
        migrated = true;
      }
      conn->Exec("SELECT 1");
      return "";
    } catch (const std::exception& e) {
      return std::string("database: ") + e.what();
    }
  });
  if (c.migrate) Migrate(c.pg_dsn);

  order::OrderStore store(pool);
  order::OrderService service(store, c.limits, metrics);
  order::OrderGrpcService grpc_service(service, metrics, c.access_log);
  // As many pollers as database connections: calls beyond that would wait for a connection anyway.
  grpc_boot::GrpcServer grpc(c.common.grpc_addr, 16 * 1024 * 1024, c.pool_size);
  grpc.AddService(&grpc_service);
  grpc.Start();
  order::RestServer rest({c.rest_addr, c.rest_threads, c.max_body_bytes, c.access_log, RAINBOW_VERSION},
                         service, metrics, pool);
  log::Info("order-api ready",
            {{"rest_port", rest.port()}, {"grpc_port", grpc.port()}, {"ops_port", ops_http.port()}});

  const auto sig = ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", *sig}});
  draining = true;
  rest.Stop(std::chrono::seconds(10));
  grpc.Shutdown(std::chrono::seconds(10));
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ops::RunService<order::OrderApiConfig>({"order-api", RAINBOW_VERSION, "orders over REST and gRPC"},
                                                argc, argv, order::LoadConfig, Run);
}
