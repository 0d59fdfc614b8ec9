// loader: wiring only (the logic is in src/). The warehouse sink and the lake sink each run on a
// thread of their own with their own consumer group; /readyz and gRPC health follow the warehouse
// sink; SIGTERM finishes and commits the batch in flight, then exits 0.
#include <thread>

#include "common/error/error.hpp"
#include "common/grpc_server/grpc_server.hpp"
#include "common/kafka/dead_letter.hpp"
#include "common/kafka/producer.hpp"
#include "common/logging/log.hpp"
#include "common/ops/background.hpp"
#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "common/ops/readiness.hpp"
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

namespace {

using namespace rainbow;

// The warehouse's migrations once the database answers; false when SIGTERM came first.
bool Migrate(const std::string& dsn, const pg::Timeouts& timeouts) {
  return pg::ApplyMigrationsWhenReachable(
      dsn, loader::kMigrationHistory, "rainbow.loader.migrations", loader::Migrations(),
      [](std::chrono::milliseconds delay) { return ops::WaitForTerminationSignal(delay).has_value(); },
      timeouts);
}

int Run(const loader::LoaderConfig& c) {
  auto registry = ops::MetricsRegistry();
  loader::LoaderMetrics metrics(*registry);
  loader::LoaderStatus status;
  // Ready once migrated (the warehouse answered); a failed batch makes it not ready until the next commit.
  ops::Readiness readiness;
  readiness.AddCheck("warehouse", [&status]() -> std::string {
    return status.Get().warehouse_ok
               ? ""
               : "warehouse sink not committing (migrating, or retrying a failed batch)";
  });
  ops::OpsHttpServer ops_http(c.common.http_addr, registry, readiness);
  if (c.migrate && !Migrate(c.warehouse_dsn, c.pg_timeouts)) return 0;
  status.WarehouseOk();

  kafka::Producer dlq({c.kafka_brokers, "loader-dlq"});
  kafka::DeadLetterWriter dead_letters(dlq, c.kafka_brokers, c.topics, "loader");
  std::unique_ptr<s3::S3Client> s3;
  if (c.lake.enabled) {
    s3 = std::make_unique<s3::S3Client>(c.s3);
    s3->CreateBucket(s3::BucketName(c.lake.bucket));
  }
  // Each sink on a thread of its own with its own consumer group: one failing never holds up the other.
  std::jthread warehouse_thread([&](std::stop_token stop) {
    loader::WarehouseLoop loop(c, dead_letters, metrics, status);
    ops::RunUntilStopped(stop, "warehouse sink", [&] { loop.RunOnce(stop); });
    loop.Close();
  });
  std::jthread lake_thread;
  if (s3) {
    lake_thread = std::jthread([&](std::stop_token stop) {
      loader::LakeLoop loop(c, *s3, metrics, status);
      ops::RunUntilStopped(stop, "lake sink",
                           [&] {
                             try {
                               loop.RunOnce(stop);
                             } catch (const std::exception& e) {
                               status.Error("lake", e.what());
                               throw;
                             }
                           },
                           {std::chrono::milliseconds(0), std::chrono::seconds(1)});
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
      loader::ClickHouseSink sink(c.clickhouse, c.warehouse_dsn, &metrics, &status, c.pg_timeouts,
                                  &dead_letters);
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

  const security::Authorizer auth(c.common.auth);
  loader::LoaderGrpcService service(auth, status, c.source_dsn, c.warehouse_dsn, c.source_schema,
                                    c.lake.enabled ? std::optional(c.s3) : std::nullopt, c.lake.bucket,
                                    c.clickhouse.url.empty() ? std::nullopt : std::optional(c.clickhouse),
                                    c.pg_timeouts);
  grpc_server::GrpcServer grpc(c.common.grpc_addr);
  grpc.UseTls(c.common.grpc_tls);
  grpc.LimitThreads(c.common.grpc_max_threads);
  grpc.AddService(&service, loader::v1::LoaderService::service_full_name());
  grpc.FollowReadiness([&readiness] { return readiness.NotReadyReason(); });  // as /readyz says
  grpc.Start();
  log::Info("loader listening", {{"grpc_port", grpc.port()},
                                 {"ops_port", ops_http.port()},
                                 {"topics", c.topic_pattern},
                                 {"lake", c.lake.enabled},
                                 {"clickhouse", !c.clickhouse.url.empty()}});

  const auto sig = ops::WaitForTerminationSignal();
  log::Info("draining", {{"signal", sig.value_or(0)}});
  readiness.SetDraining();
  // The sinks finish the batch in flight (committed) and leave their groups; then gRPC drains.
  warehouse_thread.request_stop();
  lake_thread.request_stop();
  clickhouse_thread.request_stop();
  warehouse_thread.join();
  if (lake_thread.joinable()) lake_thread.join();
  if (clickhouse_thread.joinable()) clickhouse_thread.join();
  grpc.Shutdown(c.common.drain_timeout);
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
