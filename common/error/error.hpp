#pragma once

#include <grpcpp/support/status.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rainbow::error {

// The one vocabulary of failures, in the terms a caller acts on. Every adapter's error (pg::PgError,
// s3::S3Error, kafka::KafkaError, redis::RedisError) and every domain error a service throws across a
// module boundary is an error::Error carrying one of these; adapters may keep finer detail of their
// own (an SQLSTATE, an S3 error code).
enum class Kind {
  kRetryable,        // transient: the same call may succeed later (serialization failure, throttling)
  kPermanent,        // retrying will not help, and it is not the caller's fault (a bug, a refusal)
  kNotFound,         // the thing asked for does not exist
  kInvalidArgument,  // the request itself is wrong
  kConflict,         // the request conflicts with the current state (a constraint, a fence, key reuse)
  kUnavailable,      // a dependency cannot be reached (connection refused or lost)
};

std::string_view ToString(Kind kind);
// True for the kinds a retry may cure: kRetryable and kUnavailable.
bool IsRetryable(Kind kind);

// The one mapping to protocol codes: kRetryable, kUnavailable -> UNAVAILABLE / 503; kPermanent ->
// INTERNAL / 500; kNotFound -> NOT_FOUND / 404; kInvalidArgument -> INVALID_ARGUMENT / 400;
// kConflict -> FAILED_PRECONDITION / 409.
grpc::StatusCode GrpcCode(Kind kind);
int HttpStatus(Kind kind);

// Base of every error that knows its kind. what() is the message.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, Kind kind) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// The kind of any exception: an Error's own; std::invalid_argument is kInvalidArgument; anything else
// kPermanent.
Kind KindOf(const std::exception& e);
Kind KindOf(std::exception_ptr e);

// An exception as a gRPC status: GrpcCode(KindOf(e)) and what().
grpc::Status ToGrpcStatus(const std::exception& e);

}  // namespace rainbow::error
