#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "rainbow/state_tracker.grpc.pb.h"

#include "common/error/error.hpp"
#include "common/security/security_config.hpp"

namespace rainbow::converter {

// A tracker call failed in transport or the tracker is unavailable (retry later).
class TrackerUnavailable : public error::Error {
 public:
  explicit TrackerUnavailable(const std::string& message)
      : error::Error(message, error::Kind::kUnavailable) {}
};

// The converter's side of state-tracker's FileStateService. Each call has a deadline. Thread-safe
// (gRPC stubs are).
class TrackerClient {
 public:
  // client: TLS and the bearer token towards the tracker (plaintext, no token by default).
  explicit TrackerClient(const std::string& address, const security::ClientConfig& client = {},
                         std::chrono::milliseconds deadline = std::chrono::seconds(10));

  std::vector<files::v1::FileRecord> Claim(const std::string& worker_id, uint32_t max_files,
                                           std::chrono::milliseconds lease);
  // False when the lease is lost (the tracker says we no longer hold the file). `wait`: how long to
  // wait for the answer (0 or more than the client's deadline: that deadline); a heartbeat is worth
  // nothing after the lease ends.
  bool Heartbeat(const files::v1::FileRef& file, const std::string& worker_id, uint32_t attempt,
                 std::chrono::milliseconds lease,
                 std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // False when the lease was lost before completing; `refusal` then holds the tracker's reason (such as
  // "file is REMOVED, not IN_PROGRESS").
  bool Complete(const files::v1::FileRef& file, const std::string& worker_id, uint32_t attempt,
                const std::string& output_key, const std::string& sha256, std::string* refusal = nullptr);
  // Whose failure it is (FailRequest): the file's; S3's (infrastructure: the tracker does not count
  // the attempt); or the source object is gone (the file ends REMOVED).
  enum class Cause { kFile, kInfrastructure, kSourceRemoved };
  bool Fail(const files::v1::FileRef& file, const std::string& worker_id, uint32_t attempt,
            const std::string& error, bool retryable, Cause cause = Cause::kFile);

 private:
  // A call context with the client's deadline, or `wait` when it is set.
  std::unique_ptr<grpc::ClientContext> Context(
      std::chrono::milliseconds wait = std::chrono::milliseconds(0)) const;
  // Calls a fenced transition: false when the lease was lost (FAILED_PRECONDITION, NOT_FOUND), throws
  // TrackerUnavailable on any other failure.
  template <typename Request, typename Response>
  bool CallFenced(const char* op,
                  grpc::Status (files::v1::FileStateService::Stub::*method)(grpc::ClientContext*,
                                                                            const Request&, Response*),
                  const Request& req, std::chrono::milliseconds wait = std::chrono::milliseconds(0),
                  std::string* refusal = nullptr);
  std::unique_ptr<files::v1::FileStateService::Stub> stub_;
  std::chrono::milliseconds deadline_;
};

}  // namespace rainbow::converter
