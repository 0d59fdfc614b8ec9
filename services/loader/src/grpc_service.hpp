#pragma once

#include <string>

#include "rainbow/loader.grpc.pb.h"
#include "services/loader/src/status.hpp"

namespace rainbow::loader {

// LoaderService: GetStatus from the shared status, Reconcile on connections of its own (opened per
// call: it is an operator's command, not a hot path). The status must outlive it. Thread-safe.
class LoaderGrpcService final : public v1::LoaderService::Service {
 public:
  LoaderGrpcService(const LoaderStatus& status, std::string source_dsn, std::string warehouse_dsn,
                    std::string source_schema)
      : status_(status),
        source_dsn_(std::move(source_dsn)),
        warehouse_dsn_(std::move(warehouse_dsn)),
        source_schema_(std::move(source_schema)) {}

  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::Status* response) override;
  grpc::Status Reconcile(grpc::ServerContext* context, const v1::ReconcileRequest* request,
                         v1::ReconcileResponse* response) override;

 private:
  const LoaderStatus& status_;
  const std::string source_dsn_;
  const std::string warehouse_dsn_;
  const std::string source_schema_;
};

}  // namespace rainbow::loader
