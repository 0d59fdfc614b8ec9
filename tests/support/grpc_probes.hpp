#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace rainbow::testing {

// grpc.health.v1 Check of the whole server (empty service name): true when it answers SERVING.
bool HealthServing(const std::shared_ptr<grpc::Channel>& channel);

// What grpc.health.v1 Check says of `service` ("" = the server): "SERVING", "NOT_SERVING", ..., or
// "call failed: <code>" when the call itself fails (5 s deadline).
std::string HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service = "");

// Asks HealthStatus every 100 ms until it says `want` or `timeout` passes; returns the last answer.
// (Services re-read their readiness on a timer, so health turns a moment after /readyz does.)
std::string HealthStatusOnceIs(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                               const std::string& want,
                               std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Server reflection (v1alpha) over one stream: the service names the server lists, and the serialized
// file descriptors it returns for `symbol` (empty when it knows none).
struct Reflected {
  std::set<std::string> services;
  std::vector<std::string> files_for_symbol;
};
Reflected Reflect(const std::shared_ptr<grpc::Channel>& channel, const std::string& symbol);

}  // namespace rainbow::testing
