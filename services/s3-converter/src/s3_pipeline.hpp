#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/s3/client.hpp"
#include "services/s3-converter/src/xml_converter.hpp"

#include "common/error/error.hpp"

namespace rainbow::converter {

// Why a conversion failed, in the terms the tracker (retry or not) and the metrics (bounded label) use.
enum class FailureReason {
  kInvalidJson,       // not JSON: permanent
  kWrongShape,        // JSON, but not an array of objects / JSON lines: permanent
  kSourceRemoved,     // the source object is gone (NoSuchKey while reading it): permanent
  kSourceChanged,     // the object was replaced by a newer version (which gets its own event): permanent
  kChecksumMismatch,  // the bytes read do not match the source's SHA-256: retryable (a bad read)
  kS3,                // S3 request failed: retryable or not per the S3 error kind
  kVerifyFailed,      // the uploaded object does not match what was sent: retryable
  kCancelled,         // the lease was lost or the service is stopping: not reported to the tracker
  kForbiddenBucket,   // not a configured source or output bucket (CONVERTER_SOURCE_BUCKETS): permanent
  kInternal,          // anything else: retryable
};

std::string_view ToString(FailureReason reason);

// The common kind of a failure: kInvalidArgument (not JSON, wrong shape), kNotFound, kConflict (the
// source changed), else kRetryable or kPermanent as `retryable` says.
error::Kind KindOf(FailureReason reason, bool retryable);

// A failed conversion: its reason (the metric label, the gRPC detail) and its common error::Kind.
class ConversionError : public error::Error {
 public:
  ConversionError(FailureReason reason, bool retryable, const std::string& message)
      : error::Error(message, KindOf(reason, retryable)), reason_(reason) {}
  FailureReason reason() const { return reason_; }
  bool retryable() const { return kind() == error::Kind::kRetryable; }

 private:
  FailureReason reason_;
};

struct PipelineOptions {
  XmlOptions xml;
  uint64_t download_part_size = 1ull << 20;  // ranged GET size
  int download_concurrency = 3;
  uint64_t upload_part_size = 8ull << 20;  // multipart part size (>= 5 MiB)
  int upload_concurrency = 2;
  int part_attempts = 5;          // tries per part in all (the S3 client does not also retry them)
  size_t queue_bytes = 2u << 20;  // XML buffered between the converter and the uploader
  std::string writer;             // when set, output metadata "writer": who wrote this version
};

// Observers; each may be empty. Called from the pipeline's threads: keep them short and thread-safe.
struct PipelineHooks {
  std::function<bool()> cancelled;             // polled between chunks; true stops with kCancelled
  std::function<void()> on_part_retry;         // an upload part is tried again
  std::function<void(uint64_t)> on_bytes_in;   // source bytes read
  std::function<void(uint64_t)> on_bytes_out;  // XML bytes uploaded
};

struct ConvertResult {
  std::string output_bucket;
  std::string output_key;
  std::string sha256_hex;       // SHA-256 of the whole XML, computed while streaming
  std::string checksum_sha256;  // what S3 stores: base64 (one part) or composite "base64-N"
  std::string source_etag;
  std::string output_etag;  // the version written (what a conditional delete of it names)
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t records = 0;
  int parts = 0;
  double seconds = 0;
};

// The output key of a source key: a trailing .json / .jsonl / .ndjson becomes .xml, else .xml is added.
std::string OutputKeyFor(const std::string& key);

// Converts s3://src_bucket/src_key (JSON array of objects or JSON lines) to XML at
// s3://dst_bucket/dst_key, streaming end to end with bounded memory:
//   HEAD source -> [download thread: DownloadParallel (ranged GETs, in order) -> SHA-256 of the input
//   (only when the source declares one) -> XmlConverter -> its output buffers handed to the ChunkQueue
//   without a copy] -> [upload_concurrency threads, taking turns: read a whole part from the queue,
//   hashing each piece into the whole-output SHA-256 and the part's SHA-256 in the same pass; then, in
//   parallel, UploadPart with that part checksum]
// The upload ends only after the download finished, the input checksum (x-amz-checksum-sha256 of a
// single-part source, or metadata "sha256" as hex) verified and the converter closed the document;
// any failure before that aborts the multipart upload, so nothing is visible. Before Complete the parts
// are checked (1..N, each with its checksum, all bytes sent); after Complete S3's composite checksum
// must equal ours and HEAD must agree (size, checksum), else the object is deleted again (only the version
// written here). The output is written with If-None-Match: *; an object already at the key is kept when it
// has our checksum, else replaced (If-Match: its ETag) only while hooks.cancelled() is false and the source
// still has the ETag converted, so a stale writer neither overwrites nor deletes another's output. Metadata:
// source-etag, and sha256 (hex of the whole XML) when the XML fits in one part (a multipart object's metadata
// is fixed before its content exists; its whole-file SHA-256 is returned here and recorded by the tracker).
// expected_etag: when not empty, the source must still have this ETag (else kSourceChanged).
// Throws ConversionError.
ConvertResult ConvertObject(s3::S3Client& s3, const s3::BucketName& src_bucket, const s3::ObjectKey& src_key,
                            const std::string& expected_etag, const s3::BucketName& dst_bucket,
                            const s3::ObjectKey& dst_key, const PipelineOptions& options,
                            const PipelineHooks& hooks = {});

}  // namespace rainbow::converter
