#include "services/loader/src/grpc_service.hpp"

#include <memory>

#include "common/error/error.hpp"
#include "common/pg/connection.hpp"
#include "common/security/grpc_security.hpp"
#include "common/security/scopes.hpp"
#include "services/loader/src/backfill.hpp"
#include "services/loader/src/model_types.hpp"
#include "services/loader/src/reconcile.hpp"

namespace rainbow::loader {

grpc::Status LoaderGrpcService::GetStatus(grpc::ServerContext* ctx, const v1::GetStatusRequest*,
                                          v1::Status* out) {
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kLoaderRead); !denied.ok())
    return denied;
  const auto s = status_.Get();
  for (const auto& [p, progress] : s.partitions) {
    auto* t = out->add_progress();
    t->set_topic(p.first);
    t->set_partition(p.second);
    t->set_committed_offset(progress.committed);
    t->set_end_offset(progress.end);
    t->set_lag(progress.end >= 0 && progress.committed >= 0
                   ? std::max<int64_t>(0, progress.end - progress.committed)
                   : -1);
  }
  out->set_events_loaded(s.events_loaded);
  out->set_fact_rows(s.fact_rows);
  out->set_dead_lettered(s.dead_lettered);
  out->set_last_error(s.last_error);
  out->set_last_batch_events(s.last_batch_events);
  out->set_last_batch_seconds(s.last_batch_seconds);
  out->set_last_batch_freshness_seconds(s.last_batch_max_freshness_seconds);
  out->set_last_batch_unix_ms(s.last_batch_unix_ms);
  out->set_events_per_second(s.events_per_second);
  out->set_lake_events(s.lake_events);
  out->set_warehouse_ok(s.warehouse_ok);
  out->set_lake_ok(s.lake_ok);
  out->set_clickhouse_enabled(s.clickhouse_enabled);
  out->set_clickhouse_ok(s.clickhouse_ok);
  out->set_clickhouse_rows(s.clickhouse_rows);
  out->set_clickhouse_versions_behind(s.clickhouse_versions_behind);
  return grpc::Status::OK;
}

grpc::Status LoaderGrpcService::Reconcile(grpc::ServerContext* ctx, const v1::ReconcileRequest*,
                                          v1::ReconcileResponse* out) {
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kLoaderAdmin); !denied.ok())
    return denied;
  try {
    pg::Connection source(source_dsn_, {}, pg_timeouts_);
    pg::Connection warehouse(warehouse_dsn_, {}, pg_timeouts_);
    std::unique_ptr<ClickHouseClient> ch;
    if (clickhouse_) ch = std::make_unique<ClickHouseClient>(*clickhouse_);
    const auto report = loader::Reconcile(source, warehouse, source_schema_, ch.get());
    out->set_source_sales_amount(report.source_sales);
    out->set_warehouse_sales_amount(report.warehouse_sales);
    out->set_matches(report.matches);
    for (const auto& c : report.checks) {
      auto* check = out->add_checks();
      check->set_name(c.name);
      check->set_source(c.source);
      check->set_warehouse(c.warehouse);
      check->set_matches(c.matches);
    }
    return grpc::Status::OK;
  } catch (const ClickHouseError& e) {
    return {e.retryable() ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::INTERNAL,
            std::string("reconcile: ") + e.what()};
  } catch (const std::exception& e) {
    return {error::GrpcCode(error::KindOf(e)), std::string("reconcile: ") + e.what()};
  }
}

grpc::Status LoaderGrpcService::Backfill(grpc::ServerContext* ctx, const v1::BackfillRequest* request,
                                         v1::BackfillResponse* out) {
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kLoaderAdmin); !denied.ok())
    return denied;
  try {
    pg::Connection warehouse(warehouse_dsn_, {}, pg_timeouts_);
    BackfillResult r;
    if (request->from_lake()) {
      if (!lake_)
        return {grpc::StatusCode::FAILED_PRECONDITION, "backfill: the lake sink is off (LOADER_LAKE=false)"};
      const auto rows = warehouse.Exec(
          "SELECT (SELECT count(*) FROM warehouse.fact_sales) + (SELECT count(*) FROM "
          "warehouse.dim_products) + "
          "(SELECT count(*) FROM warehouse.dim_customers)");
      if (rows.Int(0, 0) != 0)
        return {grpc::StatusCode::FAILED_PRECONDITION,
                "backfill from the lake: the warehouse is not empty (recompute into a freshly migrated one)"};
      s3::S3Client s3(*lake_);
      r = RecomputeFromLake(warehouse, s3, lake_bucket_);
    } else {
      if (!IsValidLiteral("timestamptz", request->from_date()) ||
          !IsValidLiteral("timestamptz", request->to_date()) || request->from_date().size() != 10 ||
          request->to_date().size() != 10 || request->from_date() > request->to_date())
        return {grpc::StatusCode::INVALID_ARGUMENT,
                "backfill: from_date and to_date must be YYYY-MM-DD with from_date <= to_date"};
      r = BackfillFromStaging(warehouse, request->from_date(), request->to_date());
    }
    out->set_events(r.events);
    out->set_objects(r.objects);
    out->set_fact_rows(r.fact_rows);
    return grpc::Status::OK;
  } catch (const std::exception& e) {
    return {error::GrpcCode(error::KindOf(e)), std::string("backfill: ") + e.what()};
  }
}

}  // namespace rainbow::loader
