// common/error: every adapter's error carries a Kind, mapped to gRPC and HTTP in one place.
#include "common/error/error.hpp"

#include <gtest/gtest.h>

#include "common/kafka/types.hpp"
#include "common/pg/connection.hpp"
#include "common/redis/client.hpp"
#include "common/s3/types.hpp"

namespace rainbow::error {
namespace {

TEST(ErrorKind, MapsToGrpcAndHttpInOnePlace) {
  EXPECT_EQ(GrpcCode(Kind::kRetryable), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GrpcCode(Kind::kUnavailable), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GrpcCode(Kind::kPermanent), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(GrpcCode(Kind::kNotFound), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GrpcCode(Kind::kInvalidArgument), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GrpcCode(Kind::kConflict), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(HttpStatus(Kind::kRetryable), 503);
  EXPECT_EQ(HttpStatus(Kind::kUnavailable), 503);
  EXPECT_EQ(HttpStatus(Kind::kPermanent), 500);
  EXPECT_EQ(HttpStatus(Kind::kNotFound), 404);
  EXPECT_EQ(HttpStatus(Kind::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(Kind::kConflict), 409);
  EXPECT_TRUE(IsRetryable(Kind::kUnavailable));
  EXPECT_FALSE(IsRetryable(Kind::kConflict));
}

TEST(ErrorKind, EveryAdapterErrorExposesItsKind) {
  EXPECT_EQ(KindOf(pg::PgError("x", "23505", pg::ClassifySqlState("23505"))), Kind::kConflict);
  EXPECT_EQ(KindOf(pg::PgError("x", "40001", pg::ClassifySqlState("40001"))), Kind::kRetryable);
  EXPECT_EQ(KindOf(kafka::KafkaError("x", "_MSG_TIMED_OUT", true)), Kind::kRetryable);
  EXPECT_EQ(KindOf(kafka::KafkaError("x", "_INVALID_ARG", false)), Kind::kPermanent);
  EXPECT_EQ(KindOf(redis::RedisError("x", true)), Kind::kUnavailable);
  EXPECT_EQ(KindOf(redis::RedisError("x", false)), Kind::kPermanent);
  s3::S3Error::Details missing;
  missing.kind = s3::S3ErrorKind::kNotFound;
  EXPECT_EQ(KindOf(s3::S3Error(missing)), Kind::kNotFound);
  s3::S3Error::Details denied;
  denied.kind = s3::S3ErrorKind::kAccessDenied;
  EXPECT_EQ(KindOf(s3::S3Error(denied)), Kind::kPermanent);
}

TEST(ErrorKind, OtherExceptions) {
  EXPECT_EQ(KindOf(std::invalid_argument("x")), Kind::kInvalidArgument);
  EXPECT_EQ(KindOf(std::runtime_error("x")), Kind::kPermanent);
  EXPECT_EQ(KindOf(std::make_exception_ptr(Error("x", Kind::kNotFound))), Kind::kNotFound);
  const auto status = ToGrpcStatus(Error("gone", Kind::kNotFound));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "gone");
}

}  // namespace
}  // namespace rainbow::error
