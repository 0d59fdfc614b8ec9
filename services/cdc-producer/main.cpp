// cdc-producer: PostgreSQL logical replication (pgoutput) -> Kafka, Debezium-compatible events.
// Wiring only: the logic is in src/ (cdc_producer_lib).
#include <chrono>

#include "common/grpc_server/grpc_server.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/readiness.hpp"
#include "common/ops/service_main.hpp"
#include "services/cdc-producer/src/cdc_engine.hpp"
#include "services/cdc-producer/src/config.hpp"
#include "services/cdc-producer/src/engine_runner.hpp"
#include "services/cdc-producer/src/status_service.hpp"

#ifndef RAINBOW_VERSION
#define RAINBOW_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using rainbow::cdc::CdcConfig;
  return rainbow::ops::RunService<CdcConfig>(
      {"cdc-producer", RAINBOW_VERSION,
       "PostgreSQL logical replication (pgoutput) to Kafka, Debezium-compatible"},
      argc, argv, [](rainbow::config::Env& env) { return rainbow::cdc::LoadConfig(env); },
      [](const CdcConfig& cfg) {
        auto registry = rainbow::ops::MetricsRegistry();
        rainbow::cdc::CdcMetrics metrics(*registry);
        rainbow::cdc::CdcEngine engine(cfg, RAINBOW_VERSION, metrics);
        rainbow::ops::Readiness readiness;
        readiness.AddCheck("engine", [&engine] { return engine.NotReadyReason(); });
        const auto not_ready_reason = [&readiness] { return readiness.NotReadyReason(); };
        rainbow::ops::OpsHttpServer http(cfg.common.http_addr, registry, readiness);
        const rainbow::security::Authorizer auth(cfg.common.auth);
        rainbow::cdc::StatusService status(engine, auth);
        rainbow::grpc_server::GrpcServer grpc(cfg.common.grpc_addr);
        grpc.UseTls(cfg.common.grpc_tls);
        grpc.LimitThreads(cfg.common.grpc_max_threads);
        grpc.AddService(&status, rainbow::cdc::v1::CdcStatusService::service_full_name());
        grpc.FollowReadiness(not_ready_reason);  // gRPC health says what /readyz says
        grpc.Start();
        rainbow::log::Info("ready",
                           {{"grpc_port", grpc.port()}, {"http_port", http.port()}, {"slot", cfg.slot}});

        // A signal turns /readyz 503 ("shutting down") before the engine drains.
        const int code = rainbow::cdc::RunUntilSignal(engine, [&readiness](std::chrono::milliseconds t) {
          const auto sig = rainbow::ops::WaitForTerminationSignal(t);
          if (sig) readiness.SetDraining();
          return sig;
        });
        grpc.Shutdown(cfg.common.drain_timeout);
        return code;
      });
}
