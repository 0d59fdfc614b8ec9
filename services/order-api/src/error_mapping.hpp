#pragma once

#include <grpcpp/support/status.h>

#include "services/order-api/src/order_types.hpp"

namespace rainbow::order {

// The one place API errors become protocol codes (STYLE.md: map once, at the boundary).
int HttpStatus(ErrorCode code);
grpc::StatusCode GrpcCode(ErrorCode code);
grpc::Status ToGrpcStatus(const ApiError& error);

}  // namespace rainbow::order
