// order-api: wiring only (the logic is in src/). Starts the REST and gRPC servers over one
// OrderService, applies the migrations first, serves /metrics /healthz /readyz, drains on SIGTERM.
#include <thread>

#include "common/grpc_server/grpc_server.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/readiness.hpp"
#include "common/ops/service_main.hpp"
#include "services/order-api/src/config.hpp"
#include "services/order-api/src/database_check.hpp"
#include "services/order-api/src/grpc_create_async.hpp"
#include "services/order-api/src/grpc_service.hpp"
#include "services/order-api/src/rest_server.hpp"
#include "services/order-api/src/schema.hpp"

namespace {

using namespace rainbow;

int Run(const order::OrderApiConfig& c) {
  auto registry = ops::MetricsRegistry();
  order::OrderMetrics metrics(*registry);
  pg::Pool pool({c.pg_dsn, c.pool_size, std::chrono::milliseconds(5'000), order::OrderStore::Statements(),
                 c.pg_timeouts});
  ops::AddScrapeHook([&] { metrics.ObservePool(pool.Stats()); });

  // /healthz answers from here on (liveness), /readyz and gRPC health once the database answers, the
  // schema is complete (whoever migrated it: ORDER_API_MIGRATE=false) and both servers listen.
  ops::Readiness readiness;
  order::DatabaseCheck database({c.pg_dsn, order::kMigrationHistory, c.pg_timeouts});
  readiness.AddCheck("database", [&database] { return database.Problem(); });
  readiness.AddCondition("listening", "starting: servers not listening yet");
  database.Start([&readiness] { readiness.Refresh(); });
  ops::OpsHttpServer ops_http(c.common.http_addr, registry, readiness);
  if (c.migrate && !order::MigrateWhenReachable(c.pg_dsn, c.pg_timeouts)) return 0;

  order::OrderStore store(pool);
  order::OrderService service(store, c.limits, metrics);
  const security::Authorizer auth(c.common.auth);
  order::OrderGrpcService grpc_service(service, metrics, c.access_log, auth);
  order::AsyncCreateOrder async_create(
      grpc_service, service, metrics,
      {c.pg_dsn, c.pg_timeouts, c.create_loop_connections, 4, c.access_log, c.grpc_create_queue});
  // As many pollers as database connections: calls beyond that would wait for a connection anyway.
  grpc_server::GrpcServer grpc(c.common.grpc_addr, 16 * 1024 * 1024, c.pool_size);
  grpc.UseTls(c.common.grpc_tls);
  grpc.LimitThreads(c.common.grpc_max_threads);
  grpc.AddService(&grpc_service, order::v1::OrderService::service_full_name());
  grpc.AddAsyncPart(&async_create);
  readiness.OnChange([&grpc](bool ready) { grpc.SetServing(ready); });
  // Whichever way Run ends, the readiness thread lets go of grpc before grpc is destroyed.
  struct Detach {
    ops::Readiness& readiness;
    ~Detach() {
      readiness.OnChange([](bool) {});
    }
  } detach{readiness};
  grpc.Start();
  order::RestServer rest({c.rest_addr, c.rest_threads, c.max_body_bytes, c.access_log, RAINBOW_VERSION, &auth,
                          c.rest_max_in_flight},
                         service, metrics);
  readiness.Set("listening");
  log::Info("order-api listening",
            {{"rest_port", rest.port()}, {"grpc_port", grpc.port()}, {"ops_port", ops_http.port()}});

  const auto sig = ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", *sig}});
  readiness.SetDraining();
  // Both drain at once: gRPC stops taking calls (GOAWAY, port closed) while REST answers 503, and each
  // gives its calls in flight up to DRAIN_TIMEOUT to finish.
  // (A jthread: joined whichever way this scope ends.)
  std::jthread grpc_drain([&grpc, &c] { grpc.Shutdown(c.common.drain_timeout); });
  rest.Stop(c.common.drain_timeout);
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ops::RunService<order::OrderApiConfig>({"order-api", RAINBOW_VERSION, "orders over REST and gRPC"},
                                                argc, argv, order::LoadConfig, Run);
}
