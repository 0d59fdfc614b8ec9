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

namespace {

// A google.rpc.Status with `detail` (a serialized message of type `type_url`) as its one detail.
grpc::Status WithDetail(grpc::StatusCode code, const std::string& message, const char* type_url,
                        const std::string& detail) {
  rpc::Status status;
  status.set_code(static_cast<int32_t>(code));
  status.set_message(message);
  auto* any = status.add_details();
  any->set_type_url(type_url);
  any->set_value(detail);
  return grpc::Status(code, message, status.SerializeAsString());
}

}  // namespace

grpc::Status ToGrpcStatus(const ApiError& error) {
  const auto code = GrpcCode(error.code);
  if (code == grpc::StatusCode::INVALID_ARGUMENT && !error.field.empty()) {
    rpc::BadRequest bad;
    auto* violation = bad.add_field_violations();
    violation->set_field(error.field);
    violation->set_description(error.message);
    return WithDetail(code, error.message, kBadRequestTypeUrl, bad.SerializeAsString());
  }
  if (code == grpc::StatusCode::NOT_FOUND && !error.subject.empty()) {
    rpc::ResourceInfo info;
    info.set_resource_type(kOrderResourceType);
    info.set_resource_name(error.subject);
    info.set_description(error.message);
    return WithDetail(code, error.message, kResourceInfoTypeUrl, info.SerializeAsString());
  }
  if (code == grpc::StatusCode::FAILED_PRECONDITION && !error.subject.empty()) {
    rpc::PreconditionFailure failure;
    auto* violation = failure.add_violations();
    violation->set_type(kIdempotencyKeyViolation);
    violation->set_subject(error.subject);
    violation->set_description(error.message);
    return WithDetail(code, error.message, kPreconditionFailureTypeUrl, failure.SerializeAsString());
  }
  return grpc::Status(code, error.message);
}

}  // namespace rainbow::order
