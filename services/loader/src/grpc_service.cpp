#include "services/loader/src/grpc_service.hpp"

#include "common/pg/connection.hpp"
#include "services/loader/src/reconcile.hpp"

namespace rainbow::loader {

grpc::Status LoaderGrpcService::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                                          v1::Status* out) {
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
  return grpc::Status::OK;
}

grpc::Status LoaderGrpcService::Reconcile(grpc::ServerContext*, const v1::ReconcileRequest*,
                                          v1::ReconcileResponse* out) {
  try {
    pg::Connection source(source_dsn_);
    pg::Connection warehouse(warehouse_dsn_);
    const auto report = loader::Reconcile(source, warehouse, source_schema_);
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
  } catch (const pg::PgError& e) {
    return {
        e.kind() == pg::ErrorKind::kRetryable ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::INTERNAL,
        std::string("reconcile: ") + e.what()};
  }
}

}  // namespace rainbow::loader
