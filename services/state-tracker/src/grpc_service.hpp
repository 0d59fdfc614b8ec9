#pragma once

#include <chrono>

#include "common/security/authorizer.hpp"
#include "rainbow/state_tracker.grpc.pb.h"
#include "services/state-tracker/src/metrics.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {

// The generated service with the hot transitions (Register, Claim, Heartbeat, Complete, Fail) on gRPC's
// callback API; Get, List and Stats stay synchronous.
using FileStateServiceBase = files::v1::FileStateService::WithCallbackMethod_Register<
    files::v1::FileStateService::WithCallbackMethod_Claim<
        files::v1::FileStateService::WithCallbackMethod_Heartbeat<
            files::v1::FileStateService::WithCallbackMethod_Complete<
                files::v1::FileStateService::WithCallbackMethod_Fail<
                    files::v1::FileStateService::Service>>>>>;

// gRPC FileStateService over the store. Errors: INVALID_ARGUMENT (missing fields), NOT_FOUND,
// FAILED_PRECONDITION (fencing: the caller does not hold the file), UNAVAILABLE (Redis);
// UNAUTHENTICATED / PERMISSION_DENIED without the scope: files:write for the transitions (workers),
// files:read for Get, List, Stats, files:admin for Redrive. `auth` must outlive the service.
// The transitions do not hold a thread while Redis works: the handler queues the script on the
// store's pipelined connections and the reply finishes the call (on a Redis I/O thread).
class FileStateGrpcService final : public FileStateServiceBase {
 public:
  FileStateGrpcService(StateStore& store, TrackerMetrics& metrics, std::chrono::milliseconds default_lease,
                       const security::Authorizer& auth)
      : store_(store), metrics_(metrics), default_lease_(default_lease), auth_(auth) {}

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext*, const files::v1::RegisterRequest*,
                                     files::v1::RegisterResponse*) override;
  grpc::ServerUnaryReactor* Claim(grpc::CallbackServerContext*, const files::v1::ClaimRequest*,
                                  files::v1::ClaimResponse*) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext*, const files::v1::HeartbeatRequest*,
                                      files::v1::HeartbeatResponse*) override;
  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext*, const files::v1::CompleteRequest*,
                                     files::v1::CompleteResponse*) override;
  grpc::ServerUnaryReactor* Fail(grpc::CallbackServerContext*, const files::v1::FailRequest*,
                                 files::v1::FailResponse*) override;
  grpc::Status Get(grpc::ServerContext*, const files::v1::GetRequest*, files::v1::FileRecord*) override;
  grpc::Status List(grpc::ServerContext*, const files::v1::ListRequest*, files::v1::ListResponse*) override;
  grpc::Status Stats(grpc::ServerContext*, const files::v1::StatsRequest*,
                     files::v1::StatsResponse*) override;
  grpc::Status Redrive(grpc::ServerContext*, const files::v1::RedriveRequest*,
                       files::v1::RedriveResponse*) override;

 private:
  StateStore& store_;
  TrackerMetrics& metrics_;
  std::chrono::milliseconds default_lease_;
  const security::Authorizer& auth_;
};

void ToProto(const FileRecord& r, files::v1::FileRecord* out);

}  // namespace rainbow::state
