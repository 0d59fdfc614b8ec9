#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/s3/sigv4_request.hpp"
#include "common/s3/types.hpp"

// Internal to common/s3: one signed HTTP exchange with S3 over a libcurl easy handle. Not part of the
// module's API (client.hpp is).
namespace rainbow::s3::internal {

struct Request {
  Request(std::string method_in, std::string bucket_in, std::string key_in = {})
      : method(std::move(method_in)), bucket(std::move(bucket_in)), key(std::move(key_in)) {}

  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string bucket;
  std::string key;  // raw key; empty for bucket-level requests
  sigv4::QueryParams query;
  sigv4::Headers headers;  // lower-case names; x-amz-content-sha256 is added by the transport
  std::string_view body;   // must outlive the call
  // SHA-256 of `body` when the caller already has it.
  std::optional<std::array<uint8_t, 32>> body_sha256;
  // Sign the request with x-amz-content-sha256: UNSIGNED-PAYLOAD. Only for requests that carry the
  // body's SHA-256 as x-amz-checksum-sha256 (a signed header the server verifies against the bytes it
  // receives): the body is then checked once by the server instead of twice, with the same digest.
  bool unsigned_payload = false;
  // Bytes the response body is expected to hold (e.g. a ranged GET's length), reserved up front so the
  // body is not regrown (and copied) as it arrives. 0: unknown.
  size_t expected_body_bytes = 0;
  // When set, a 2xx response body is streamed here instead of collected in Response::body.
  const ChunkSink* sink = nullptr;
  // With a sink: receives the response headers just before the first chunk is delivered, so a caller
  // can resume (pinned to the ETag) a transfer that breaks midway.
  std::map<std::string, std::string>* stream_headers = nullptr;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, values trimmed
  std::string body;

  // The header's value, or "" when absent.
  const std::string& Header(const std::string& lower_name) const;
};

// "PUT bucket/key" or "GET bucket?list-type=2": names a request in error messages.
std::string Describe(const Request& request);

std::string StripQuotes(std::string_view etag);

// Owns a pool of libcurl easy handles. Each call borrows a handle for its whole duration, so a handle
// is never used by two threads at once, and returns it afterwards (keeping its connection alive for
// reuse). Thread-safe; must outlive every call in flight.
class Transport {
 public:
  explicit Transport(S3Config config);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // One attempt. Throws S3Error for transport failures and non-2xx responses; rethrows a sink's
  // exception unchanged.
  Response Perform(const Request& request);
  // Perform, retried with the configured backoff while the error is kRetryable. Not for requests
  // with a sink (a retry would deliver bytes twice); those handle resumption themselves.
  Response Execute(const Request& request);

  const S3Config& config() const { return config_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> Acquire();
  void Release(std::unique_ptr<Handle> handle);

  S3Config config_;
  std::string host_;  // "host[:port]" from the endpoint, for self-signed requests
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_;
};

// True when the exception is an S3Error of kind kRetryable.
bool IsRetryable(const std::exception& e);

// Builds the S3Error for a non-2xx response (XML error body, or MinIO's x-minio-error-* headers for
// HEAD responses, which carry no body).
S3Error ErrorFromResponse(const std::string& operation, const Response& response);

}  // namespace rainbow::s3::internal
