#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>

#include "services/order-api/src/metrics.hpp"

namespace rainbow::order {

// Times a gRPC call, records its outcome and writes its access log line (the gRPC twin of REST's).
// The request id is the caller's x-request-id, or a new one.
class CallScope {
 public:
  CallScope(OrderMetrics& metrics, bool access_log, const char* method, const grpc::ServerContext& ctx);
  const std::string& request_id() const { return request_id_; }
  // Records the call as ended with `status`; returns it.
  grpc::Status Done(grpc::Status status, int64_t order_id = 0);

 private:
  OrderMetrics& metrics_;
  const bool access_log_;
  const char* method_;
  const std::string request_id_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace rainbow::order
