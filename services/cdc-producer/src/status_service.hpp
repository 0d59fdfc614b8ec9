#pragma once

#include "rainbow/cdc_producer.grpc.pb.h"
#include "services/cdc-producer/src/cdc_engine.hpp"

namespace rainbow::cdc {

// CdcStatusService over the engine: its status, and Resnapshot; the engine must outlive it. Thread-safe.
class StatusService final : public v1::CdcStatusService::Service {
 public:
  explicit StatusService(CdcEngine& engine) : engine_(engine) {}
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::Status* response) override;
  grpc::Status Resnapshot(grpc::ServerContext* context, const v1::ResnapshotRequest* request,
                          v1::ResnapshotReply* response) override;

 private:
  CdcEngine& engine_;
};

// Fills the proto from a status copy (exposed for tests).
void ToProto(const StatusSnapshot& s, v1::Status& out);

}  // namespace rainbow::cdc
