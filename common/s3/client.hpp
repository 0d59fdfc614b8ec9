#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/s3/types.hpp"

namespace rainbow::s3 {

namespace internal {
class Transport;
}

// An S3 client on libcurl (7.88, Debian 12) and its built-in SigV4 signer (CURLOPT_AWS_SIGV4), path-style
// addressing, for MinIO and AWS S3.
//
// Ownership and threading: the caller owns the client; it must outlive every call in flight. Every
// method is thread-safe: a call borrows a libcurl easy handle from the client's pool for its duration
// (easy handles are never shared between threads) and returns it, so connections are reused. Parallel
// helpers run their own worker threads, each with its own handle.
//
// Errors: every failed request throws S3Error (see types.hpp) naming the operation, the S3 error Code,
// the HTTP status, the server's Message and the request id. Errors of kind kRetryable (5xx, throttling,
// timeouts, dropped connections) are retried with the config's jittered backoff before being thrown.
// Arguments rejected before any request is sent (bucket name, part size, metadata names) throw
// std::invalid_argument.
//
// Integrity: PutObject and UploadPart send the body's SHA-256 as x-amz-checksum-sha256, a signed
// header that S3 checks against the bytes it receives and stores with the object; their payload hash
// is UNSIGNED-PAYLOAD so the server hashes each body once, not twice for the same digest. Every other
// request carries x-amz-content-sha256 (the hex SHA-256 of its body), which S3 checks.
//
// Signing: curl 7.88 signs the request as given, so the path and query are sent pre-encoded and
// pre-sorted (sigv4_request.hpp). It orders headers wrongly when one name is a prefix of another
// followed by a character below ':' (x-amz-meta-a vs x-amz-meta-a-b), and cannot sign an empty header
// value; such requests are signed here instead (same algorithm, sigv4::Authorization).
class S3Client {
 public:
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Config& config() const;

  // --- Buckets ---
  // Creates the bucket; succeeds when it already exists and is ours (BucketAlreadyOwnedByYou).
  void CreateBucket(const BucketName& bucket);
  // Deletes an empty bucket; kNotFound when it does not exist.
  void DeleteBucket(const BucketName& bucket);

  // --- Objects ---
  // Uploads `body` as one object, with the checksum S3 verifies (see PutOptions::checksum_sha256), under
  // options.condition (a failed one throws PreconditionFailed; see WriteCondition::if_absent).
  PutResult PutObject(const BucketName& bucket, const ObjectKey& key, std::string_view body,
                      const PutOptions& options = {});
  // The whole object, or the inclusive `range` of it, in memory. kNotFound for a missing key,
  // kInvalidArgument for a range past the end.
  std::string GetObject(const BucketName& bucket, const ObjectKey& key,
                        std::optional<ByteRange> range = std::nullopt);
  // Streams the object (or `range`) to `sink` in order, on the calling thread. A transfer that breaks
  // midway resumes after the last delivered byte (pinned to the first response's ETag with If-Match,
  // so a concurrently replaced object fails with PreconditionFailed instead of mixing versions); the
  // sink never sees a byte twice. Returns the object's headers.
  ObjectInfo GetObjectStreaming(const BucketName& bucket, const ObjectKey& key, const ChunkSink& sink,
                                std::optional<ByteRange> range = std::nullopt);
  // Size, ETag, content type, metadata and the stored SHA-256 checksum (asked for with
  // x-amz-checksum-mode: ENABLED). kNotFound for a missing key.
  ObjectInfo HeadObject(const BucketName& bucket, const ObjectKey& key);
  // Deletes the key; deleting a missing key succeeds (S3 semantics).
  void DeleteObject(const BucketName& bucket, const ObjectKey& key);
  // Deletes the key only while it holds the version `etag` (without quotes); false when the key is
  // missing or holds another version. MinIO ignores If-Match on DELETE (it is sent anyway, for servers
  // that honour it), so the ETag is compared after a HEAD: a write landing between that HEAD and the
  // DELETE is still deleted. Callers keep that window small (HEAD right before DELETE).
  bool DeleteObjectIfMatch(const BucketName& bucket, const ObjectKey& key, const std::string& etag);
  // One page of keys, in key order. Pass the page's next_continuation_token back for the next page.
  ListPage ListObjectsV2(const BucketName& bucket, const ListOptions& options = {});

  // --- Multipart, low level (parts 1..10000, each 5 MiB..5 GiB except the last) ---
  // Starts an upload with the object's content type and metadata (options.checksum_sha256 is
  // ignored) and x-amz-checksum-algorithm: SHA256. Returns the upload id.
  std::string CreateMultipartUpload(const BucketName& bucket, const ObjectKey& key,
                                    const PutOptions& options = {});
  // Uploads one part with its SHA-256 checksum; returns its ETag and checksum for Complete.
  UploadedPart UploadPart(const BucketName& bucket, const ObjectKey& key, const std::string& upload_id,
                          int part_number, std::string_view body);
  // Same, with the body's SHA-256 already computed by the caller (e.g. while producing the bytes);
  // S3 rejects the part (kChecksumMismatch) when the body does not match it.
  UploadedPart UploadPart(const BucketName& bucket, const ObjectKey& key, const std::string& upload_id,
                          int part_number, std::string_view body, const std::array<uint8_t, 32>& body_sha256);
  // Assembles the parts (sorted by number here) into the object, which becomes visible only now, under
  // `condition`. Retried on retryable errors; a retry whose first reply was lost finds the upload gone
  // (NoSuchUpload) or, with if_absent, the key taken (PreconditionFailed): when the object there has
  // the composite checksum of these parts, it is the one this call wrote, and the call succeeds.
  PutResult CompleteMultipartUpload(const BucketName& bucket, const ObjectKey& key,
                                    const std::string& upload_id, std::vector<UploadedPart> parts,
                                    const WriteCondition& condition = {});
  // Discards the upload and its parts.
  void AbortMultipartUpload(const BucketName& bucket, const ObjectKey& key, const std::string& upload_id);
  // Uploads in progress under `prefix` (MinIO needs the exact key as prefix).
  std::vector<MultipartUploadInfo> ListMultipartUploads(const BucketName& bucket, const std::string& prefix);

  // --- High level ---
  // Uploads everything `source` yields with `options.concurrency` worker threads, each sending whole
  // parts (retried with backoff when retryable). On any failure the upload is aborted, so no partial
  // object ever becomes visible, and the first error is rethrown. Data that fits in one part is sent
  // with a single PutObject instead (so its checksum is a full-object one, not "base64-N").
  PutResult UploadMultipart(const BucketName& bucket, const ObjectKey& key, const DataSource& source,
                            const MultipartOptions& options = {});
  // The multipart path alone, for callers that know their data needs parts: a multipart upload of
  // everything `source` yields, each part sent with the SHA-256 the source returned for it, with the
  // options' part retries and hooks. `first`, when not empty, is the first part, already read
  // (`first_sha256` its digest). On any failure the upload is aborted and the first error rethrown.
  PutResult UploadParts(const BucketName& bucket, const ObjectKey& key, const PartSource& source,
                        const MultipartOptions& options, std::string first = {},
                        const std::array<uint8_t, 32>& first_sha256 = {});
  // Downloads the object with `concurrency` ranged GETs of `part_size` bytes (pinned to one version
  // with If-Match) and hands the chunks to `sink` strictly in order, on the calling thread. At most
  // about 2 * concurrency parts are buffered. Returns the object's headers (from HEAD).
  ObjectInfo DownloadParallel(const BucketName& bucket, const ObjectKey& key, uint64_t part_size,
                              int concurrency, const ChunkSink& sink);
  // Same, handing each part's buffer to `sink`, which may keep it (e.g. queue it without a copy).
  ObjectInfo DownloadParallelBuffers(const BucketName& bucket, const ObjectKey& key, uint64_t part_size,
                                     int concurrency, const BufferSink& sink);

 private:
  // UploadPart's request, with the client's retries or tried once (UploadParts retries parts itself).
  UploadedPart UploadPartTries(const BucketName& bucket, const ObjectKey& key, const std::string& upload_id,
                               int part_number, std::string_view body,
                               const std::array<uint8_t, 32>& body_sha256, bool with_retries);
  // The object at the key when it has exactly `checksum_sha256` (a write of ours that already
  // happened); nullopt when it is missing or differs.
  std::optional<PutResult> AlreadyWritten(const BucketName& bucket, const ObjectKey& key,
                                          const std::string& checksum_sha256);

  std::unique_ptr<internal::Transport> transport_;
};

// The checksum S3 reports for a multipart object: base64(SHA-256(part digest 1 || ... || part digest
// N)) + "-N", from the parts' base64 checksums. Lets callers compare with HeadObject's checksum.
std::string CompositeChecksum(const std::vector<UploadedPart>& parts);

}  // namespace rainbow::s3
