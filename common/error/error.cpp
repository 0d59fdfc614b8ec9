#include "common/error/error.hpp"

namespace rainbow::error {

std::string_view ToString(Kind kind) {
  switch (kind) {
    case Kind::kRetryable:
      return "retryable";
    case Kind::kPermanent:
      return "permanent";
    case Kind::kNotFound:
      return "not found";
    case Kind::kInvalidArgument:
      return "invalid argument";
    case Kind::kConflict:
      return "conflict";
    case Kind::kUnavailable:
      return "unavailable";
  }
  return "permanent";
}

bool IsRetryable(Kind kind) { return kind == Kind::kRetryable || kind == Kind::kUnavailable; }

grpc::StatusCode GrpcCode(Kind kind) {
  switch (kind) {
    case Kind::kRetryable:
    case Kind::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Kind::kPermanent:
      return grpc::StatusCode::INTERNAL;
    case Kind::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Kind::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Kind::kConflict:
      return grpc::StatusCode::FAILED_PRECONDITION;
  }
  return grpc::StatusCode::INTERNAL;
}

int HttpStatus(Kind kind) {
  switch (kind) {
    case Kind::kRetryable:
    case Kind::kUnavailable:
      return 503;
    case Kind::kPermanent:
      return 500;
    case Kind::kNotFound:
      return 404;
    case Kind::kInvalidArgument:
      return 400;
    case Kind::kConflict:
      return 409;
  }
  return 500;
}

Kind KindOf(const std::exception& e) {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return error->kind();
  if (dynamic_cast<const std::invalid_argument*>(&e) != nullptr) return Kind::kInvalidArgument;
  return Kind::kPermanent;
}

Kind KindOf(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return KindOf(ex);
  } catch (...) {
    return Kind::kPermanent;
  }
}

grpc::Status ToGrpcStatus(const std::exception& e) { return {GrpcCode(KindOf(e)), e.what()}; }

}  // namespace rainbow::error
