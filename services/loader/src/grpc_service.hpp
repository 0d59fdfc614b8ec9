#pragma once

#include <string>

#include <optional>

#include "common/pg/timeouts.hpp"
#include "common/s3/types.hpp"
#include "common/security/authorizer.hpp"
#include "rainbow/loader.grpc.pb.h"
#include "services/loader/src/clickhouse_client.hpp"
#include "services/loader/src/status.hpp"

namespace rainbow::loader {

// LoaderService: GetStatus from the shared status, Reconcile on connections of its own (opened per
// call: it is an operator's command, not a hot path). GetStatus needs loader:read, the others
// loader:admin. The status and the authorizer must outlive it. Thread-safe.
class LoaderGrpcService final : public v1::LoaderService::Service {
 public:
  // lake: where Backfill from the lake reads (nullopt: the lake sink is off, and so is that backfill).
  LoaderGrpcService(const security::Authorizer& auth, const LoaderStatus& status, std::string source_dsn,
                    std::string warehouse_dsn, std::string source_schema, std::optional<s3::S3Config> lake,
                    std::string lake_bucket, std::optional<ClickHouseConfig> clickhouse = std::nullopt,
                    pg::Timeouts pg_timeouts = {})
      : auth_(auth),
        status_(status),
        source_dsn_(std::move(source_dsn)),
        warehouse_dsn_(std::move(warehouse_dsn)),
        source_schema_(std::move(source_schema)),
        lake_(std::move(lake)),
        lake_bucket_(std::move(lake_bucket)),
        clickhouse_(std::move(clickhouse)),
        // Reconcile sums whole tables and Backfill rebuilds them: operator commands that take as long
        // as the data is big, so without the statement timeout.
        pg_timeouts_(pg_timeouts.WithoutStatementTimeout()) {}

  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::Status* response) override;
  grpc::Status Reconcile(grpc::ServerContext* context, const v1::ReconcileRequest* request,
                         v1::ReconcileResponse* response) override;
  grpc::Status Backfill(grpc::ServerContext* context, const v1::BackfillRequest* request,
                        v1::BackfillResponse* response) override;

 private:
  const security::Authorizer& auth_;
  const LoaderStatus& status_;
  const std::string source_dsn_;
  const std::string warehouse_dsn_;
  const std::string source_schema_;
  const std::optional<s3::S3Config> lake_;
  const std::string lake_bucket_;
  const std::optional<ClickHouseConfig> clickhouse_;
  const pg::Timeouts pg_timeouts_;  // Reconcile checks the serving layer too
};

}  // namespace rainbow::loader
