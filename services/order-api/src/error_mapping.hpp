#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "services/order-api/src/order_types.hpp"

namespace rainbow::order {

// The one place API errors become protocol codes (STYLE.md: map once, at the boundary).
int HttpStatus(ErrorCode code);
grpc::StatusCode GrpcCode(ErrorCode code);
// An INVALID_ARGUMENT about one field carries gRPC's rich error model: error_details() (the
// grpc-status-details-bin trailer) is a serialized google.rpc.Status whose details hold a
// google.rpc.BadRequest naming the field (rainbow/rpc_status.proto). Other errors have no details.
grpc::Status ToGrpcStatus(const ApiError& error);

inline constexpr const char* kBadRequestTypeUrl = "type.googleapis.com/google.rpc.BadRequest";

// The serialized google.rpc.Status above.
std::string BadRequestDetails(grpc::StatusCode code, const std::string& message, const std::string& field);

}  // namespace rainbow::order
