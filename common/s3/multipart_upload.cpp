#include <openssl/evp.h>
#include <pugixml.hpp>

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "common/crypto/sha256.hpp"
#include "common/retry/backoff.hpp"
#include "common/s3/client.hpp"
#include "common/s3/http_transport.hpp"
#include "common/s3/object_headers.hpp"

namespace rainbow::s3 {

using internal::Request;
using internal::Response;

namespace {

constexpr uint64_t kMinPartSize = 5ull << 20;
constexpr uint64_t kMaxPartSize = 5ull << 30;
constexpr int kMaxParts = 10'000;
// What S3 and MinIO store when a PUT names no Content-Type; multipart uploads get the same.
constexpr const char* kDefaultContentType = "binary/octet-stream";

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Parses an XML response body; a 200 whose body is an <Error> (CompleteMultipartUpload can do that
// after it has started streaming whitespace) throws like a failed status would.
pugi::xml_node ParseResult(pugi::xml_document& doc, const Response& resp, const char* root_name,
                           const Request& req) {
  if (doc.load_buffer(resp.body.data(), resp.body.size())) {
    if (const pugi::xml_node root = doc.child(root_name)) return root;
    if (doc.child("Error")) throw internal::ErrorFromResponse(internal::Describe(req), resp);
  }
  throw S3Error(
      {S3ErrorKind::kPermanent, resp.status, "MalformedResponse",
       std::string("expected <") + root_name + "> in the response, got: " + resp.body.substr(0, 200),
       resp.Header("x-amz-request-id"), internal::Describe(req)});
}

// Fills `out` from the source until it holds `max` bytes or the source is exhausted.
size_t ReadFull(const DataSource& source, std::string& out, size_t max) {
  out.resize(max);
  size_t n = 0;
  while (n < max) {
    const size_t got = source(out.data() + n, max - n);
    if (got == 0) break;
    n += got;
  }
  out.resize(n);
  return n;
}

std::array<uint8_t, 32> DecodeDigest(const std::string& b64) {
  std::array<uint8_t, 33> buf{};  // 44 base64 chars decode to 33 bytes (the last one is padding)
  if (b64.size() != 44 ||
      EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(b64.data()), 44) != 33) {
    throw std::invalid_argument("s3: '" + b64 + "' is not a base64 SHA-256 digest");
  }
  std::array<uint8_t, 32> out{};
  std::copy_n(buf.begin(), 32, out.begin());
  return out;
}

}  // namespace

std::string CompositeChecksum(const std::vector<UploadedPart>& parts) {
  crypto::Sha256 h;
  for (const auto& part : parts) {
    const auto digest = DecodeDigest(part.checksum_sha256);
    h.Update(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  }
  return crypto::Base64(h.Final()) + "-" + std::to_string(parts.size());
}

std::string S3Client::CreateMultipartUpload(const BucketName& bucket, const ObjectKey& key,
                                            const PutOptions& options) {
  Request req("POST", bucket.str(), key.str());
  req.query.emplace_back("uploads", "");
  // A POST without Content-Type would get curl's application/x-www-form-urlencoded, and S3 would
  // store that as the object's type.
  internal::AddObjectHeaders(req.headers,
                             options.content_type.empty() ? kDefaultContentType : options.content_type,
                             options.metadata);
  req.headers.emplace_back("x-amz-checksum-algorithm", "SHA256");
  const Response resp = transport_->Execute(req);
  pugi::xml_document doc;
  const std::string upload_id =
      ParseResult(doc, resp, "InitiateMultipartUploadResult", req).child_value("UploadId");
  if (upload_id.empty()) {
    throw S3Error({S3ErrorKind::kPermanent, resp.status, "MalformedResponse", "no UploadId in the response",
                   resp.Header("x-amz-request-id"), internal::Describe(req)});
  }
  return upload_id;
}

UploadedPart S3Client::UploadPart(const BucketName& bucket, const ObjectKey& key,
                                  const std::string& upload_id, int part_number, std::string_view body) {
  if (part_number < 1 || part_number > kMaxParts) {
    throw std::invalid_argument("s3: part number " + std::to_string(part_number) + " outside 1..10000");
  }
  return UploadPart(bucket, key, upload_id, part_number, body, crypto::Sha256Of(body));
}

UploadedPart S3Client::UploadPart(const BucketName& bucket, const ObjectKey& key,
                                  const std::string& upload_id, int part_number, std::string_view body,
                                  const std::array<uint8_t, 32>& body_sha256) {
  return UploadPartTries(bucket, key, upload_id, part_number, body, body_sha256, true);
}

UploadedPart S3Client::UploadPartTries(const BucketName& bucket, const ObjectKey& key,
                                       const std::string& upload_id, int part_number, std::string_view body,
                                       const std::array<uint8_t, 32>& body_sha256, bool with_retries) {
  if (part_number < 1 || part_number > kMaxParts) {
    throw std::invalid_argument("s3: part number " + std::to_string(part_number) + " outside 1..10000");
  }
  Request req("PUT", bucket.str(), key.str());
  req.query.emplace_back("partNumber", std::to_string(part_number));
  req.query.emplace_back("uploadId", upload_id);
  UploadedPart part{part_number, "", crypto::Base64(body_sha256)};
  req.headers.emplace_back("x-amz-checksum-sha256", part.checksum_sha256);
  req.body = body;
  req.unsigned_payload = true;  // the body is covered by the signed checksum header
  const Response resp = with_retries ? transport_->Execute(req) : transport_->Perform(req);
  part.etag = internal::StripQuotes(resp.Header("etag"));
  return part;
}

PutResult S3Client::CompleteMultipartUpload(const BucketName& bucket, const ObjectKey& key,
                                            const std::string& upload_id, std::vector<UploadedPart> parts,
                                            const WriteCondition& condition) {
  std::sort(parts.begin(), parts.end(),
            [](const auto& a, const auto& b) { return a.part_number < b.part_number; });
  std::string body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  bool all_checksums = !parts.empty();
  for (const auto& p : parts) {
    body += "<Part><PartNumber>" + std::to_string(p.part_number) + "</PartNumber><ETag>\"" +
            XmlEscape(p.etag) + "\"</ETag>";
    if (!p.checksum_sha256.empty())
      body += "<ChecksumSHA256>" + XmlEscape(p.checksum_sha256) + "</ChecksumSHA256>";
    all_checksums = all_checksums && !p.checksum_sha256.empty();
    body += "</Part>";
  }
  body += "</CompleteMultipartUpload>";

  Request req("POST", bucket.str(), key.str());
  req.query.emplace_back("uploadId", upload_id);
  req.headers.emplace_back("content-type", "application/xml");
  internal::AddWriteCondition(req.headers, condition);
  req.body = body;
  return retry::WithRetry(
      config().retry,
      [&] {
        try {
          const Response resp = transport_->Perform(req);
          pugi::xml_document doc;
          const pugi::xml_node root = ParseResult(doc, resp, "CompleteMultipartUploadResult", req);
          return PutResult{internal::StripQuotes(root.child_value("ETag")),
                           root.child_value("ChecksumSHA256")};
        } catch (const S3Error& e) {
          // A retry after a reply that was lost: the first Complete may have written the object (the
          // upload is gone: NoSuchUpload; or, with if_absent, the object is there: PreconditionFailed).
          // Our object, recognised by its checksum, means the write happened. Even the first attempt
          // can be such a retry: libcurl resends a request on its own when a reused connection dies
          // before any answer, so NoSuchUpload is checked whatever the attempt.
          const bool maybe_ours =
              e.code() == "NoSuchUpload" || (condition.if_absent && e.code() == "PreconditionFailed");
          if (maybe_ours && all_checksums) {
            if (auto written = AlreadyWritten(bucket, key, CompositeChecksum(parts))) return *written;
          }
          throw;
        }
      },
      [](const std::exception& e) { return internal::IsRetryable(e); });
}

void S3Client::AbortMultipartUpload(const BucketName& bucket, const ObjectKey& key,
                                    const std::string& upload_id) {
  Request req("DELETE", bucket.str(), key.str());
  req.query.emplace_back("uploadId", upload_id);
  transport_->Execute(req);
}

std::vector<MultipartUploadInfo> S3Client::ListMultipartUploads(const BucketName& bucket,
                                                                const std::string& prefix) {
  Request req("GET", bucket.str());
  req.query.emplace_back("uploads", "");
  if (!prefix.empty()) req.query.emplace_back("prefix", prefix);
  const Response resp = transport_->Execute(req);
  pugi::xml_document doc;
  const pugi::xml_node root = ParseResult(doc, resp, "ListMultipartUploadsResult", req);
  std::vector<MultipartUploadInfo> out;
  for (const pugi::xml_node u : root.children("Upload"))
    out.push_back({u.child_value("Key"), u.child_value("UploadId")});
  return out;
}

PutResult S3Client::UploadMultipart(const BucketName& bucket, const ObjectKey& key, const DataSource& source,
                                    const MultipartOptions& options) {
  if (options.part_size < kMinPartSize || options.part_size > kMaxPartSize) {
    throw std::invalid_argument("s3: part_size must be 5 MiB..5 GiB, got " +
                                std::to_string(options.part_size));
  }
  const auto part_size = static_cast<size_t>(options.part_size);
  // Small data: one PUT, no multipart bookkeeping.
  std::string first;
  if (ReadFull(source, first, part_size) < part_size) {
    return PutObject(bucket, key, first,
                     PutOptions{options.content_type, options.metadata, "", options.condition});
  }
  const auto first_sha256 = crypto::Sha256Of(first);
  const PartSource parts = [&source](std::string& out, size_t max) {
    ReadFull(source, out, max);
    return crypto::Sha256Of(out);
  };
  return UploadParts(bucket, key, parts, options, std::move(first), first_sha256);
}

namespace {

// The shared state of one UploadParts call: its workers take turns reading the next part from the
// source (under the lock: sources are sequential), then upload it in parallel with the others.
struct PartsRun {
  std::mutex mu;
  std::optional<std::string> prefetched;
  std::array<uint8_t, 32> prefetched_sha256{};
  bool source_done = false;
  int next_part = 1;
  std::exception_ptr error;
  std::stop_source stop;  // requested at the first failure: other parts stop retrying
  std::vector<UploadedPart> parts;

  void Failed(const MultipartOptions& options) {
    {
      std::lock_guard lock(mu);
      if (error) return;
      error = std::current_exception();
    }
    stop.request_stop();
    if (options.on_failure) options.on_failure();
  }
};

}  // namespace

PutResult S3Client::UploadParts(const BucketName& bucket, const ObjectKey& key, const PartSource& source,
                                const MultipartOptions& options, std::string first,
                                const std::array<uint8_t, 32>& first_sha256) {
  if (options.part_size < kMinPartSize || options.part_size > kMaxPartSize) {
    throw std::invalid_argument("s3: part_size must be 5 MiB..5 GiB, got " +
                                std::to_string(options.part_size));
  }
  if (options.concurrency < 1) throw std::invalid_argument("s3: concurrency must be at least 1");
  const auto part_size = static_cast<size_t>(options.part_size);
  const std::string upload_id =
      CreateMultipartUpload(bucket, key, PutOptions{options.content_type, options.metadata, "", {}});

  PartsRun run;
  if (!first.empty()) {
    run.prefetched = std::move(first);
    run.prefetched_sha256 = first_sha256;
  }
  // The only retries of a part's request: nested under the client's own, a server that takes
  // connections and answers nothing (a frozen MinIO) would hold a part for part_attempts times the
  // client's attempts, each a whole stall timeout.
  retry::BackoffPolicy part_retry = config().retry;
  part_retry.max_attempts = std::max(1, options.part_attempts);
  const auto worker = [&] {
    // One buffer per worker, reused: after the first part a source that fills it in place neither
    // allocates nor zero-fills.
    std::string buffer;
    try {
      for (;;) {
        int part_number = 0;
        std::array<uint8_t, 32> sha256{};
        {
          std::lock_guard lock(run.mu);
          if (run.error || run.source_done) return;
          if (run.prefetched) {
            buffer = std::move(*run.prefetched);
            sha256 = run.prefetched_sha256;
            run.prefetched.reset();
          } else {
            sha256 = source(buffer, part_size);
          }
          if (buffer.size() < part_size) run.source_done = true;
          if (buffer.empty()) return;
          part_number = run.next_part++;
          if (part_number > kMaxParts) {
            throw S3Error({S3ErrorKind::kInvalidArgument, 0, "TooManyParts",
                           "the data needs more than 10000 parts of " + std::to_string(part_size) + " bytes",
                           "", "PUT " + bucket.str() + "/" + key.str() + "?uploadId"});
          }
        }
        if (options.before_part) options.before_part();
        UploadedPart part = retry::WithRetry(
            run.stop.get_token(), part_retry,
            [&] { return UploadPartTries(bucket, key, upload_id, part_number, buffer, sha256, false); },
            [&](const std::exception& e) {
              if (!internal::IsRetryable(e)) return false;
              if (options.on_part_retry) options.on_part_retry();
              return true;
            });
        if (options.on_part_done) options.on_part_done(buffer.size());
        std::lock_guard lock(run.mu);
        run.parts.push_back(std::move(part));
      }
    } catch (...) {
      run.Failed(options);
    }
  };

  {
    std::vector<std::jthread> threads;
    try {
      for (int i = 0; i < options.concurrency; ++i) threads.emplace_back(worker);
    } catch (...) {
      run.Failed(options);
    }
  }  // joins the workers

  if (!run.error) {
    try {
      std::sort(run.parts.begin(), run.parts.end(),
                [](const auto& a, const auto& b) { return a.part_number < b.part_number; });
      if (options.before_part) options.before_part();
      if (options.before_complete) options.before_complete(run.parts);
      try {
        return CompleteMultipartUpload(bucket, key, upload_id, run.parts, options.condition);
      } catch (const S3Error& e) {
        // Another object has the key: replace exactly that version when the caller says so (a
        // failed condition leaves the upload in place, so it can be completed again).
        if (e.code() != "PreconditionFailed" || !options.on_existing) throw;
        const ObjectInfo existing = HeadObject(bucket, key);
        if (options.on_existing(existing) != OnExisting::kReplace) throw;
        if (options.before_part) options.before_part();
        return CompleteMultipartUpload(bucket, key, upload_id, std::move(run.parts),
                                       WriteCondition{false, existing.etag});
      }
    } catch (...) {
      run.error = std::current_exception();
    }
  }
  try {
    AbortMultipartUpload(bucket, key, upload_id);
  } catch (...) {
    // The original failure matters more; a leftover upload is reaped by the bucket's lifecycle rules.
  }
  std::rethrow_exception(run.error);
}

}  // namespace rainbow::s3
