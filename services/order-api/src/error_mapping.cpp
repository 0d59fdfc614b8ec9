#include "services/order-api/src/error_mapping.hpp"

#include "rainbow/rpc_status.pb.h"

namespace rainbow::order {

error::Kind ToKind(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return error::Kind::kInvalidArgument;
    case ErrorCode::kNotFound:
      return error::Kind::kNotFound;
    case ErrorCode::kIdempotencyConflict:
      return error::Kind::kConflict;
    case ErrorCode::kUnavailable:
      return error::Kind::kUnavailable;
    case ErrorCode::kOutcomeUnknown:
    case ErrorCode::kInternal:
      return error::Kind::kPermanent;
  }
  return error::Kind::kPermanent;
}

int HttpStatus(ErrorCode code) {
  // An Idempotency-Key reused for another request is 422, as the IETF Idempotency-Key draft says
  // (409 is for a request still being processed); every other code maps as its kind does.
  if (code == ErrorCode::kIdempotencyConflict) return 422;
  return error::HttpStatus(ToKind(code));
}

grpc::StatusCode GrpcCode(ErrorCode code) {
  // gRPC has a code of its own for an outcome the server cannot tell (INTERNAL says it failed).
  if (code == ErrorCode::kOutcomeUnknown) return grpc::StatusCode::UNKNOWN;
  return error::GrpcCode(ToKind(code));
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
