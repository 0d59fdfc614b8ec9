// loader: wiring only (the logic is in src/). The warehouse sink and the lake sink each run on a
// thread of their own with their own consumer group; /readyz and gRPC health follow the warehouse
// sink; SIGTERM finishes and commits the batch in flight, then exits 0.
#include <thread>

#include "common/grpc/grpc_server.hpp"
#include "common/kafka/producer.hpp"
#include "common/logging/log.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/service_main.hpp"
#include "common/pg/migrations.hpp"
#include "common/retry/backoff.hpp"
#include "services/loader/src/clickhouse_sink.hpp"
#include "services/loader/src/config.hpp"
#include "services/loader/src/grpc_service.hpp"
#include "services/loader/src/lake_loop.hpp"
#include "services/loader/src/metrics.hpp"
#include "services/loader/src/migrations.hpp"
#include "services/loader/src/warehouse_loop.hpp"

#ifndef RAINBOW_VERSION
#define RAINBOW_VERSION "dev"
#endif

namespace {

using namespace rainbow;

// Applies the migrations, retrying while the database is not reachable yet; false on SIGTERM.
bool Migrate(const std::string& dsn) {
  retry::Backoff backoff({std::chrono::milliseconds(200), std::chrono::milliseconds(5'000), 2.0, 30});
  for (;;) {
    try {
      pg::Connection conn(dsn);
      const auto applied = pg::ApplyMigrations(conn, loader::kMigrationHistory, "rainbow.loader.migrations",
                                               loader::Migrations());
      log::Info("migrations applied", {{"applied", applied}, {"known", loader::Migrations().size()}});
      return true;
    } catch (const pg::PgError& e) {
      if (e.kind() != pg::ErrorKind::kRetryable || !backoff.CanRetry()) throw;
      const auto delay = backoff.NextDelay();
      log::Warn("warehouse not reachable, retrying", {{"error", e.what()}, {"retry_in_ms", delay.count()}});
      if (const auto sig = ops::WaitForTerminationSignal(delay)) return false;
    }
  }
}

int Run(const loader::LoaderConfig& c) {
  auto registry = ops::MetricsRegistry();
  loader::LoaderMetrics metrics(*registry);
  loader::LoaderStatus status;
  const auto not_ready = [&]() -> std::string {
    return status.Get().warehouse_ok ? ""
                                     : "warehouse sink has not committed since its last failure or start";
  };
  ops::OpsHttpServer ops_http(c.common.http_addr, registry, not_ready);
  if (c.migrate && !Migrate(c.warehouse_dsn)) return 0;

  kafka::Producer dlq({c.kafka_brokers, "loader-dlq"});
  std::unique_ptr<s3::S3Client> s3;
  if (c.lake.enabled) {
    s3 = std::make_unique<s3::S3Client>(c.s3);
    s3->CreateBucket(s3::BucketName(c.lake.bucket));
  }
  // Ready once migrated (the warehouse answered); a failed batch turns it not ready until the next commit.
  status.WarehouseOk();

  std::jthread warehouse_thread([&](std::stop_token stop) {
    loader::WarehouseLoop loop(c, dlq, metrics, status);
    while (!stop.stop_requested()) loop.RunOnce(stop);
    loop.Close();
  });
  std::jthread lake_thread;
  if (s3) {
    lake_thread = std::jthread([&](std::stop_token stop) {
      loader::LakeLoop loop(c, *s3, metrics, status);
      while (!stop.stop_requested()) {
        try {
          loop.RunOnce(stop);
        } catch (const std::exception& e) {
          status.Error("lake", e.what());
          log::Warn("lake sink failed, retrying", {{"error", e.what()}});
          std::this_thread::sleep_for(std::chrono::seconds(1));
        }
      }
      loop.Close();
    });
  }
  // The serving layer: its own thread and progress; a failing ClickHouse (or a failing round) backs
  // off and retries without holding up the other sinks, and does not make the loader unready
  // (README "ClickHouse").
  std::jthread clickhouse_thread;
  if (!c.clickhouse.url.empty()) {
    status.ClickHouseEnabled();
    metrics.SinkUp("clickhouse", false);
    clickhouse_thread = std::jthread([&](std::stop_token stop) {
      loader::ClickHouseSink sink(c.clickhouse, c.warehouse_dsn, &metrics, &status);
      retry::Backoff backoff({std::chrono::milliseconds(500), std::chrono::milliseconds(5'000), 2.0, 0});
      while (!stop.stop_requested()) {
        auto pause = c.clickhouse.interval;
        try {
          if (sink.RunOnce(stop) > 0) pause = std::chrono::milliseconds(0);
          backoff.Reset();
        } catch (const std::exception& e) {
          status.Error("clickhouse", e.what());
          metrics.SinkUp("clickhouse", false);
          metrics.Batch("clickhouse", "retried", 0, 0);
          sink.Reset();
          pause = backoff.NextDelay();
          log::Warn("clickhouse sink failed, retrying",
                    {{"error", e.what()}, {"retry_in_ms", pause.count()}});
        }
        for (auto waited = std::chrono::milliseconds(0); waited < pause && !stop.stop_requested();
             waited += std::chrono::milliseconds(50))
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }

  loader::LoaderGrpcService service(status, c.source_dsn, c.warehouse_dsn, c.source_schema,
                                    c.lake.enabled ? std::optional(c.s3) : std::nullopt, c.lake.bucket,
                                    c.clickhouse.url.empty() ? std::nullopt : std::optional(c.clickhouse));
  grpc_boot::GrpcServer grpc(c.common.grpc_addr);
  grpc.AddService(&service, loader::v1::LoaderService::service_full_name());
  grpc.FollowReadiness(not_ready);
  grpc.Start();
  log::Info("loader listening", {{"grpc_port", grpc.port()},
                                 {"ops_port", ops_http.port()},
                                 {"topics", c.topic_pattern},
                                 {"lake", c.lake.enabled},
                                 {"clickhouse", !c.clickhouse.url.empty()}});

  const auto sig = ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", sig.value_or(0)}});
  warehouse_thread.request_stop();
  lake_thread.request_stop();
  clickhouse_thread.request_stop();
  warehouse_thread.join();
  if (lake_thread.joinable()) lake_thread.join();
  if (clickhouse_thread.joinable()) clickhouse_thread.join();
  grpc.Shutdown(c.drain);
  dlq.Flush(std::chrono::seconds(5));
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ops::RunService<loader::LoaderConfig>(
      {"loader", RAINBOW_VERSION, "change events into the warehouse (SCD2 star schema) and the S3 lake"},
      argc, argv, loader::LoadConfig, Run);
}
