#include "common/s3/sigv4_request.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "common/crypto/sha256.hpp"

namespace rainbow::s3::sigv4 {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

using Digest = std::array<uint8_t, 32>;

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len) == nullptr ||
      len != out.size()) {
    throw std::runtime_error("sigv4: HMAC-SHA256 failed");
  }
  return out;
}

std::string_view AsView(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

// Canonical (name, trimmed value) pairs sorted by name: SigV4's order.
Headers SortedCanonical(const Headers& headers) {
  Headers out;
  out.reserve(headers.size());
  for (const auto& [name, value] : headers) out.emplace_back(ToLower(name), TrimValue(value));
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::string SignedHeaderList(const Headers& sorted) {
  std::string out;
  for (const auto& [name, value] : sorted) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

std::string Scope(const SigningInput& in) {
  return std::string(in.timestamp.substr(0, 8)) + "/" + std::string(in.region) + "/" +
         std::string(in.service) + "/aws4_request";
}

}  // namespace

std::string UriEncode(std::string_view in, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size() * 3);
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string CanonicalPath(std::string_view bucket, std::string_view key) {
  std::string path = "/" + UriEncode(bucket, false);
  if (!key.empty()) path += "/" + UriEncode(key, true);
  return path;
}

std::string CanonicalQuery(const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params)
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string TrimValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool CurlMisSortsHeaders(const Headers& headers) {
  // curl 7.88 (lib/http_aws_sigv4.c, make_headers) bubble-sorts "name:value" strings with strcmp.
  std::vector<std::string> lines;
  lines.reserve(headers.size());
  for (const auto& [name, value] : headers) lines.push_back(ToLower(name) + ":" + TrimValue(value));
  std::sort(lines.begin(), lines.end(),
            [](const std::string& a, const std::string& b) { return std::strcmp(a.c_str(), b.c_str()) < 0; });
  std::vector<std::string> names;
  names.reserve(lines.size());
  for (const auto& line : lines) names.push_back(line.substr(0, line.find(':')));
  return !std::is_sorted(names.begin(), names.end());
}

std::string CanonicalRequest(const SigningInput& in) {
  const Headers sorted = SortedCanonical(in.headers);
  std::string out;
  out.append(in.method).append("\n");
  out.append(in.canonical_uri).append("\n");
  out.append(in.canonical_query).append("\n");
  for (const auto& [name, value] : sorted) out.append(name).append(":").append(value).append("\n");
  out.append("\n");
  out.append(SignedHeaderList(sorted)).append("\n");
  out.append(in.payload_hash);
  return out;
}

std::string StringToSign(const SigningInput& in) {
  return "AWS4-HMAC-SHA256\n" + std::string(in.timestamp) + "\n" + Scope(in) + "\n" +
         crypto::Sha256Hex(CanonicalRequest(in));
}

std::string Authorization(const SigningInput& in) {
  const Digest k_date = HmacSha256("AWS4" + std::string(in.secret_key), in.timestamp.substr(0, 8));
  const Digest k_region = HmacSha256(AsView(k_date), in.region);
  const Digest k_service = HmacSha256(AsView(k_region), in.service);
  const Digest k_signing = HmacSha256(AsView(k_service), "aws4_request");
  const Digest signature = HmacSha256(AsView(k_signing), StringToSign(in));
  return "AWS4-HMAC-SHA256 Credential=" + std::string(in.access_key) + "/" + Scope(in) +
         ", SignedHeaders=" + SignedHeaderList(SortedCanonical(in.headers)) +
         ", Signature=" + crypto::Hex(signature);
}

std::string AmzTimestamp(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[17];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace rainbow::s3::sigv4
