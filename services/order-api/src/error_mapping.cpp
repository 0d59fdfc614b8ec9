#include "services/order-api/src/error_mapping.hpp"

#include "rainbow/rpc_status.pb.h"

namespace rainbow::order {

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kIdempotencyConflict:
      return 422;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

grpc::StatusCode GrpcCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case ErrorCode::kIdempotencyConflict:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::kInternal:
      return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

std::string BadRequestDetails(grpc::StatusCode code, const std::string& message, const std::string& field) {
  rpc::BadRequest bad;
  auto* violation = bad.add_field_violations();
  violation->set_field(field);
  violation->set_description(message);
  rpc::Status status;
  status.set_code(static_cast<int32_t>(code));
  status.set_message(message);
  auto* any = status.add_details();
  any->set_type_url(kBadRequestTypeUrl);
  any->set_value(bad.SerializeAsString());
  return status.SerializeAsString();
}

grpc::Status ToGrpcStatus(const ApiError& error) {
  const auto code = GrpcCode(error.code);
  // BadRequest is the detail for a bad argument; other codes name no field to a gRPC client.
  if (code != grpc::StatusCode::INVALID_ARGUMENT || error.field.empty())
    return grpc::Status(code, error.message);
  return grpc::Status(code, error.message, BadRequestDetails(code, error.message, error.field));
}

}  // namespace rainbow::order
