#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "common/error/error.hpp"
#include "services/order-api/src/order_types.hpp"

namespace rainbow::order {

// The one place API errors become protocol codes (STYLE.md: map once, at the boundary): each
// ErrorCode is an error::Kind, mapped by common/error (two exceptions: an Idempotency-Key conflict is
// HTTP 422, an unknown create outcome is gRPC UNKNOWN and HTTP 500).
error::Kind ToKind(ErrorCode code);
int HttpStatus(ErrorCode code);
grpc::StatusCode GrpcCode(ErrorCode code);
// Errors a client can act on carry gRPC's rich error model: error_details() (the
// grpc-status-details-bin trailer) is a serialized google.rpc.Status holding one detail
// (rainbow/rpc_status.proto):
//   INVALID_ARGUMENT about a field   google.rpc.BadRequest naming the field
//   NOT_FOUND                        google.rpc.ResourceInfo: the Order type and the id looked up
//   FAILED_PRECONDITION (key reuse)  google.rpc.PreconditionFailure: type IDEMPOTENCY_KEY, the key
// UNAVAILABLE and INTERNAL carry none: there is nothing in them for a client to fix.
grpc::Status ToGrpcStatus(const ApiError& error);

inline constexpr const char* kBadRequestTypeUrl = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr const char* kResourceInfoTypeUrl = "type.googleapis.com/google.rpc.ResourceInfo";
inline constexpr const char* kPreconditionFailureTypeUrl =
    "type.googleapis.com/google.rpc.PreconditionFailure";
inline constexpr const char* kOrderResourceType = "type.googleapis.com/rainbow.order.v1.Order";
inline constexpr const char* kIdempotencyKeyViolation = "IDEMPOTENCY_KEY";

}  // namespace rainbow::order
