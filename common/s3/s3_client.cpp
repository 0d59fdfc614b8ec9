#include <pugixml.hpp>

#include <thread>
#include <utility>

#include "common/crypto/sha256.hpp"
#include "common/retry/backoff.hpp"
#include "common/s3/client.hpp"
#include "common/s3/http_transport.hpp"
#include "common/s3/object_headers.hpp"

namespace rainbow::s3 {

using internal::Request;
using internal::Response;

namespace {

uint64_t ToU64(const char* s) { return std::strtoull(s, nullptr, 10); }

}  // namespace

S3Client::S3Client(S3Config config) : transport_(std::make_unique<internal::Transport>(std::move(config))) {}

S3Client::~S3Client() = default;

const S3Config& S3Client::config() const { return transport_->config(); }

void S3Client::CreateBucket(const BucketName& bucket) {
  Request req("PUT", bucket.str());
  std::string body;
  // us-east-1 is S3's default location; every other region must be named in the body.
  if (config().region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
        config().region + "</LocationConstraint></CreateBucketConfiguration>";
    req.headers.emplace_back("content-type", "application/xml");
  }
  req.body = body;
  try {
    transport_->Execute(req);
  } catch (const S3Error& e) {
    if (e.code() != "BucketAlreadyOwnedByYou") throw;
  }
}

void S3Client::DeleteBucket(const BucketName& bucket) {
  transport_->Execute(Request("DELETE", bucket.str()));
}

PutResult S3Client::PutObject(const BucketName& bucket, const ObjectKey& key, std::string_view body,
                              const PutOptions& options) {
  Request req("PUT", bucket.str(), key.str());
  internal::AddObjectHeaders(req.headers, options.content_type, options.metadata);
  // A caller's checksum is sent as is (the body is not hashed again here): the server rejects the
  // PUT when the body does not match it.
  const std::string checksum =
      options.checksum_sha256.empty() ? crypto::Sha256Base64(body) : options.checksum_sha256;
  req.headers.emplace_back("x-amz-checksum-sha256", checksum);
  internal::AddWriteCondition(req.headers, options.condition);
  req.body = body;
  req.unsigned_payload = true;  // the body is covered by the signed checksum header
  try {
    const Response resp = transport_->Execute(req);
    const std::string& stored = resp.Header("x-amz-checksum-sha256");
    return {internal::StripQuotes(resp.Header("etag")), stored.empty() ? checksum : stored};
  } catch (const S3Error& e) {
    // A retried PUT whose first reply was lost finds its own object in the way.
    if (options.condition.if_absent && e.code() == "PreconditionFailed") {
      if (auto written = AlreadyWritten(bucket, key, checksum)) return *written;
    }
    throw;
  }
}

std::optional<PutResult> S3Client::AlreadyWritten(const BucketName& bucket, const ObjectKey& key,
                                                  const std::string& checksum_sha256) {
  try {
    const ObjectInfo info = HeadObject(bucket, key);
    if (info.checksum_sha256 == checksum_sha256) return PutResult{info.etag, info.checksum_sha256};
  } catch (const S3Error& e) {
    if (e.s3_kind() != S3ErrorKind::kNotFound) throw;
  }
  return std::nullopt;
}

std::string S3Client::GetObject(const BucketName& bucket, const ObjectKey& key,
                                std::optional<ByteRange> range) {
  Request req("GET", bucket.str(), key.str());
  if (range) req.headers.emplace_back("range", internal::RangeHeader(*range));
  return transport_->Execute(req).body;
}

ObjectInfo S3Client::GetObjectStreaming(const BucketName& bucket, const ObjectKey& key, const ChunkSink& sink,
                                        std::optional<ByteRange> range) {
  if (range) (void)internal::RangeHeader(*range);  // validates
  const uint64_t first = range ? range->first : 0;
  uint64_t delivered = 0;
  std::string etag;  // pinned by the first response that delivered bytes
  std::map<std::string, std::string> first_headers;
  const ChunkSink counting = [&](std::string_view chunk) {
    sink(chunk);
    delivered += chunk.size();
  };
  retry::Backoff backoff(config().retry);
  for (;;) {
    Request req("GET", bucket.str(), key.str());
    if (range || delivered > 0) {
      req.headers.emplace_back("range", "bytes=" + std::to_string(first + delivered) + "-" +
                                            (range ? std::to_string(range->last) : std::string()));
    }
    if (!etag.empty()) req.headers.emplace_back("if-match", "\"" + etag + "\"");
    req.sink = &counting;
    req.stream_headers = &first_headers;
    const uint64_t delivered_before = delivered;
    try {
      const Response resp = transport_->Perform(req);
      return internal::InfoFromHeaders(resp.headers);
    } catch (const S3Error& e) {
      if (etag.empty() && delivered > 0) etag = internal::StripQuotes(first_headers["etag"]);
      if (delivered > delivered_before) backoff.Reset();  // progress: the link works, start over
      const auto delay = backoff.NextDelay();
      if (!e.retryable() || !backoff.CanRetry()) throw;
      std::this_thread::sleep_for(delay);
    }
  }
}

ObjectInfo S3Client::HeadObject(const BucketName& bucket, const ObjectKey& key) {
  Request req("HEAD", bucket.str(), key.str());
  req.headers.emplace_back("x-amz-checksum-mode", "ENABLED");
  return internal::InfoFromHeaders(transport_->Execute(req).headers);
}

void S3Client::DeleteObject(const BucketName& bucket, const ObjectKey& key) {
  transport_->Execute(Request("DELETE", bucket.str(), key.str()));
}

bool S3Client::DeleteObjectIfMatch(const BucketName& bucket, const ObjectKey& key, const std::string& etag) {
  try {
    if (HeadObject(bucket, key).etag != etag) return false;
  } catch (const S3Error& e) {
    if (e.s3_kind() == S3ErrorKind::kNotFound) return false;
    throw;
  }
  Request req("DELETE", bucket.str(), key.str());
  req.headers.emplace_back("if-match", "\"" + etag + "\"");
  try {
    transport_->Execute(req);
  } catch (const S3Error& e) {
    if (e.code() == "PreconditionFailed") return false;  // a server that honours If-Match on DELETE
    throw;
  }
  return true;
}

ListPage S3Client::ListObjectsV2(const BucketName& bucket, const ListOptions& options) {
  Request req("GET", bucket.str());
  req.query.emplace_back("list-type", "2");
  req.query.emplace_back("max-keys", std::to_string(options.max_keys));
  if (!options.prefix.empty()) req.query.emplace_back("prefix", options.prefix);
  if (!options.continuation_token.empty())
    req.query.emplace_back("continuation-token", options.continuation_token);
  if (!options.start_after.empty()) req.query.emplace_back("start-after", options.start_after);
  if (!options.delimiter.empty()) req.query.emplace_back("delimiter", options.delimiter);
  const Response resp = transport_->Execute(req);

  pugi::xml_document doc;
  const pugi::xml_node root =
      doc.load_buffer(resp.body.data(), resp.body.size()) ? doc.child("ListBucketResult") : pugi::xml_node();
  if (!root) {
    throw S3Error({S3ErrorKind::kPermanent, resp.status, "MalformedResponse",
                   "ListObjectsV2 response is not a ListBucketResult: " + resp.body.substr(0, 200),
                   resp.Header("x-amz-request-id"), internal::Describe(req)});
  }
  ListPage page;
  for (const pugi::xml_node c : root.children("Contents")) {
    page.objects.push_back({c.child_value("Key"), ToU64(c.child_value("Size")),
                            internal::StripQuotes(c.child_value("ETag")), c.child_value("LastModified")});
  }
  for (const pugi::xml_node p : root.children("CommonPrefixes"))
    page.common_prefixes.emplace_back(p.child_value("Prefix"));
  page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  page.next_continuation_token = root.child_value("NextContinuationToken");
  return page;
}

}  // namespace rainbow::s3
