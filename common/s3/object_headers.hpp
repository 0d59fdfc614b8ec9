#pragma once

#include <string>

#include "common/s3/http_transport.hpp"
#include "common/s3/types.hpp"

// Internal to common/s3: the object-level headers shared by the single-shot and multipart operations.
namespace rainbow::s3::internal {

// Adds content-type (when set) and x-amz-meta-<name> headers. Throws std::invalid_argument for a
// metadata name outside [A-Za-z0-9_.-] or a value outside printable ASCII.
void AddObjectHeaders(sigv4::Headers& headers, const std::string& content_type, const Metadata& metadata);

// If-None-Match: * and If-Match: "<etag>" for a conditional write.
void AddWriteCondition(sigv4::Headers& headers, const WriteCondition& condition);

// ObjectInfo from HEAD/GET response headers (size from Content-Range's total when present).
ObjectInfo InfoFromHeaders(const std::map<std::string, std::string>& headers);

// "bytes=first-last"; throws std::invalid_argument when last < first.
std::string RangeHeader(const ByteRange& range);

}  // namespace rainbow::s3::internal
