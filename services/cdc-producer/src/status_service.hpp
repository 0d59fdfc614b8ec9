#pragma once

#include "rainbow/cdc_producer.grpc.pb.h"
#include "services/cdc-producer/src/cdc_engine.hpp"

namespace rainbow::cdc {

// CdcStatusService over the engine's status; the engine must outlive it. Thread-safe.
class StatusService final : public v1::CdcStatusService::Service {
 public:
  explicit StatusService(const CdcEngine& engine) : engine_(engine) {}
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::Status* response) override;

 private:
  const CdcEngine& engine_;
};

// Fills the proto from a status copy (exposed for tests).
void ToProto(const StatusSnapshot& s, v1::Status& out);

}  // namespace rainbow::cdc
