#include "common/s3/types.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace rainbow::s3 {
namespace {

bool OneOf(std::string_view code, std::initializer_list<std::string_view> codes) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

std::string FormatWhat(const S3Error::Details& d) {
  std::string out = "S3 " + d.operation + ": " + d.code;
  if (d.http_status != 0) out += " (" + std::to_string(d.http_status) + ")";
  out += ": " + d.message;
  if (!d.request_id.empty()) out += " [request " + d.request_id + "]";
  return out;
}

}  // namespace

BucketName::BucketName(std::string name) : name_(std::move(name)) {
  const auto valid_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  };
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name_.size() < 3 || name_.size() > 63 || !std::all_of(name_.begin(), name_.end(), valid_char) ||
      !alnum(name_.front()) || !alnum(name_.back())) {
    throw std::invalid_argument("s3: invalid bucket name '" + name_ +
                                "' (3-63 chars of a-z 0-9 . -, starting and ending with a letter or digit)");
  }
}

ObjectKey::ObjectKey(std::string key) : key_(std::move(key)) {
  if (key_.empty() || key_.size() > 1024) {
    throw std::invalid_argument("s3: object key must be 1..1024 bytes, got " + std::to_string(key_.size()));
  }
}

std::string_view ToString(S3ErrorKind kind) {
  switch (kind) {
    case S3ErrorKind::kNotFound:
      return "not_found";
    case S3ErrorKind::kAccessDenied:
      return "access_denied";
    case S3ErrorKind::kInvalidCredentials:
      return "invalid_credentials";
    case S3ErrorKind::kChecksumMismatch:
      return "checksum_mismatch";
    case S3ErrorKind::kInvalidArgument:
      return "invalid_argument";
    case S3ErrorKind::kRetryable:
      return "retryable";
    case S3ErrorKind::kPermanent:
      return "permanent";
  }
  return "unknown";
}

S3ErrorKind ClassifyS3Error(long http_status, std::string_view code) {
  if (OneOf(code, {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NoSuchVersion", "NotFound"}) ||
      http_status == 404) {
    return S3ErrorKind::kNotFound;
  }
  if (OneOf(code, {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                   "AuthorizationHeaderMalformed", "InvalidSecurity"})) {
    return S3ErrorKind::kInvalidCredentials;
  }
  if (OneOf(code, {"XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "BadDigest"})) {
    return S3ErrorKind::kChecksumMismatch;
  }
  if (OneOf(code, {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "OperationAborted",
                   "XMinioServerNotInitialized", "XMinioReadQuorum", "XMinioWriteQuorum"}) ||
      http_status >= 500 || http_status == 429 || http_status == 408) {
    return S3ErrorKind::kRetryable;
  }
  if (http_status == 403) return S3ErrorKind::kAccessDenied;
  if (http_status == 400 || http_status == 411 || http_status == 413 || http_status == 416) {
    return S3ErrorKind::kInvalidArgument;
  }
  return S3ErrorKind::kPermanent;
}

error::Kind KindOf(S3ErrorKind kind) {
  switch (kind) {
    case S3ErrorKind::kNotFound:
      return error::Kind::kNotFound;
    case S3ErrorKind::kInvalidArgument:
      return error::Kind::kInvalidArgument;
    case S3ErrorKind::kRetryable:
    case S3ErrorKind::kChecksumMismatch:
      return error::Kind::kRetryable;
    case S3ErrorKind::kAccessDenied:
    case S3ErrorKind::kInvalidCredentials:
    case S3ErrorKind::kPermanent:
      return error::Kind::kPermanent;
  }
  return error::Kind::kPermanent;
}

S3Error::S3Error(Details details)
    : error::Error(FormatWhat(details), KindOf(details.kind)), details_(std::move(details)) {}

DataSource MemorySource(std::string_view data) {
  return [data, offset = size_t{0}](char* out, size_t max) mutable {
    const size_t n = std::min(max, data.size() - offset);
    std::memcpy(out, data.data() + offset, n);
    offset += n;
    return n;
  };
}

}  // namespace rainbow::s3
