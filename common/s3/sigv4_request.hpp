#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The parts of an S3 request that AWS Signature V4 is strict about: how the path and query are
// percent-encoded and ordered, how headers are canonicalised, and (for the cases curl 7.88 gets
// wrong, see client.hpp) the signature itself. Pure functions; thread-safe.
namespace rainbow::s3::sigv4 {

using QueryParams = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), with upper-case
// hex, byte by byte (UTF-8 stays UTF-8 bytes). With keep_slash, '/' is left as is (object key paths).
std::string UriEncode(std::string_view in, bool keep_slash);

// "/<bucket>" or "/<bucket>/<key encoded with '/' kept>": the path sent on the wire, which is also the
// canonical URI (S3 does not double-encode).
std::string CanonicalPath(std::string_view bucket, std::string_view key);

// Names and values encoded (including '/', '=', '+'), pairs sorted by encoded name then value, each as
// "name=value" (flags such as "uploads" become "uploads="), joined by '&'. The same string is sent on
// the wire, so curl's canonical query equals the one S3 computes.
std::string CanonicalQuery(const QueryParams& params);

// A header value as SigV4 canonicalises it: leading/trailing blanks dropped, inner runs of blanks
// collapsed to one space.
std::string TrimValue(std::string_view value);

// True when curl 7.88's signer would order these headers wrongly. It sorts the "name:value" lines
// with strcmp instead of sorting by name, so "x-amz-meta-a:..." lands after "x-amz-meta-a-b:..."
// ('-' < ':') while SigV4 wants the shorter name first. Pass every header curl would sign (ours plus
// "host" and "x-amz-date"); names must already be lower-case.
bool CurlMisSortsHeaders(const Headers& headers);

// Everything a signature covers. `headers` must hold every signed header, "host" and "x-amz-date"
// included, names lower-case.
struct SigningInput {
  std::string_view method;
  std::string_view canonical_uri;    // CanonicalPath(...)
  std::string_view canonical_query;  // CanonicalQuery(...)
  Headers headers;
  std::string_view payload_hash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
  std::string_view region;
  std::string_view service;    // "s3"
  std::string_view timestamp;  // "YYYYMMDDTHHMMSSZ", the x-amz-date value
  std::string_view access_key;
  std::string_view secret_key;
};

std::string CanonicalRequest(const SigningInput& in);
std::string StringToSign(const SigningInput& in);
// The value of the Authorization header: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...".
std::string Authorization(const SigningInput& in);

// "YYYYMMDDTHHMMSSZ" in UTC.
std::string AmzTimestamp(std::chrono::system_clock::time_point t);

}  // namespace rainbow::s3::sigv4
