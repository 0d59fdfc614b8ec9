#include "common/s3/object_headers.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace rainbow::s3::internal {
namespace {

constexpr std::string_view kMetaPrefix = "x-amz-meta-";

uint64_t ParseU64(std::string_view s) {
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() ? v : 0;
}

}  // namespace

void AddObjectHeaders(sigv4::Headers& headers, const std::string& content_type, const Metadata& metadata) {
  if (!content_type.empty()) headers.emplace_back("content-type", content_type);
  for (const auto& [name, value] : metadata) {
    const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
             c == '_' || c == '.';
    });
    if (!name_ok) throw std::invalid_argument("s3: metadata name '" + name + "' must be [A-Za-z0-9_.-]+");
    const bool value_ok =
        std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
    if (!value_ok) {
      throw std::invalid_argument("s3: metadata value of '" + name + "' must be printable ASCII");
    }
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    headers.emplace_back(std::string(kMetaPrefix) + lower, value);
  }
}

ObjectInfo InfoFromHeaders(const std::map<std::string, std::string>& headers) {
  const auto get = [&](const std::string& name) -> std::string {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  };
  ObjectInfo info;
  info.etag = StripQuotes(get("etag"));
  info.content_type = get("content-type");
  info.last_modified = get("last-modified");
  info.checksum_sha256 = get("x-amz-checksum-sha256");
  const std::string content_range = get("content-range");  // "bytes 0-9/12345"
  const auto slash = content_range.rfind('/');
  info.size = slash != std::string::npos ? ParseU64(std::string_view(content_range).substr(slash + 1))
                                         : ParseU64(get("content-length"));
  for (auto it = headers.lower_bound(std::string(kMetaPrefix));
       it != headers.end() && it->first.starts_with(kMetaPrefix); ++it) {
    info.metadata[it->first.substr(kMetaPrefix.size())] = it->second;
  }
  return info;
}

std::string RangeHeader(const ByteRange& range) {
  if (range.last < range.first) {
    throw std::invalid_argument("s3: byte range " + std::to_string(range.first) + "-" +
                                std::to_string(range.last) + " is empty");
  }
  return "bytes=" + std::to_string(range.first) + "-" + std::to_string(range.last);
}

void AddWriteCondition(sigv4::Headers& headers, const WriteCondition& condition) {
  if (condition.if_absent) headers.emplace_back("if-none-match", "*");
  if (!condition.if_match_etag.empty())
    headers.emplace_back("if-match", "\"" + condition.if_match_etag + "\"");
}

}  // namespace rainbow::s3::internal
