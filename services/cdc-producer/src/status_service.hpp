#pragma once

#include "common/security/authorizer.hpp"
#include "rainbow/cdc_producer.grpc.pb.h"
#include "services/cdc-producer/src/cdc_engine.hpp"

namespace rainbow::cdc {

// CdcStatusService over the engine: its status (cdc:read), and Resnapshot (cdc:admin); the engine and the
// authorizer must outlive it. Thread-safe.
class StatusService final : public v1::CdcStatusService::Service {
 public:
  StatusService(CdcEngine& engine, const security::Authorizer& auth) : engine_(engine), auth_(auth) {}
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::Status* response) override;
  grpc::Status Resnapshot(grpc::ServerContext* context, const v1::ResnapshotRequest* request,
                          v1::ResnapshotReply* response) override;

 private:
  CdcEngine& engine_;
  const security::Authorizer& auth_;
};

// Fills the proto from a status copy (exposed for tests).
void ToProto(const StatusSnapshot& s, v1::Status& out);

}  // namespace rainbow::cdc
