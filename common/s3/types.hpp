#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/retry/backoff.hpp"

#include "common/error/error.hpp"

namespace rainbow::s3 {

// A bucket name, validated on construction against S3's rules (3-63 chars of [a-z0-9.-], starting and
// ending with a letter or digit) so that a bad name fails here, not as a confusing signature error.
class BucketName {
 public:
  explicit BucketName(std::string name);
  const std::string& str() const { return name_; }
  friend bool operator==(const BucketName&, const BucketName&) = default;

 private:
  std::string name_;
};

// An object key: any non-empty UTF-8 string of at most 1024 bytes. Kept raw; encoding happens only
// when a request is built.
class ObjectKey {
 public:
  explicit ObjectKey(std::string key);
  const std::string& str() const { return key_; }
  friend bool operator==(const ObjectKey&, const ObjectKey&) = default;
  friend auto operator<=>(const ObjectKey&, const ObjectKey&) = default;

 private:
  std::string key_;
};

// User metadata (sent as x-amz-meta-<name>). Names are lower-case ASCII (S3 lower-cases them anyway,
// and HEAD returns them lower-case); values must be printable ASCII (HTTP header values).
using Metadata = std::map<std::string, std::string>;

// What went wrong, in the terms a caller acts on.
enum class S3ErrorKind {
  kNotFound,            // NoSuchKey, NoSuchBucket, NoSuchUpload, 404
  kAccessDenied,        // AccessDenied and other 403s: the credentials work but lack the right
  kInvalidCredentials,  // InvalidAccessKeyId, SignatureDoesNotMatch: wrong key or secret
  kChecksumMismatch,    // the body did not match x-amz-checksum-sha256 / x-amz-content-sha256
  kInvalidArgument,     // the request itself is wrong (bad name, bad range, part too small, ...)
  kRetryable,           // 5xx, throttling, timeouts, connection failures: try again later
  kPermanent,           // anything else: retrying will not help
};

std::string_view ToString(S3ErrorKind kind);

// The common kind of an S3 failure: kNotFound, kInvalidArgument and kRetryable as they are; a checksum
// mismatch is kRetryable (the bytes were damaged on the way); access and credential errors kPermanent.
error::Kind KindOf(S3ErrorKind kind);

// Maps an HTTP status and S3 error Code (e.g. 404 "NoSuchKey") to the kind a caller acts on.
S3ErrorKind ClassifyS3Error(long http_status, std::string_view code);

// The one exception the S3 client throws for failed requests. what() reads like
// "S3 PUT raw/x: InvalidAccessKeyId (403): The Access Key Id you provided does not exist in our
// records. [request 18EA...]".
// kind() is the common error::Kind (KindOf below); s3_kind() the finer S3 detail.
class S3Error : public error::Error {
 public:
  struct Details {
    S3ErrorKind kind = S3ErrorKind::kPermanent;
    long http_status = 0;    // 0 when no HTTP response arrived (transport failure)
    std::string code;        // S3 error Code, e.g. "NoSuchKey"; "CURLE_*" for transport failures
    std::string message;     // S3 error Message, or curl's error text
    std::string request_id;  // x-amz-request-id, when the server sent one
    std::string operation;   // e.g. "PUT raw/x"
  };

  explicit S3Error(Details details);

  S3ErrorKind s3_kind() const { return details_.kind; }
  long http_status() const { return details_.http_status; }
  const std::string& code() const { return details_.code; }
  const std::string& message() const { return details_.message; }
  const std::string& request_id() const { return details_.request_id; }
  bool retryable() const { return details_.kind == S3ErrorKind::kRetryable; }

 private:
  Details details_;
};

// Connection settings. Endpoint uses path-style addressing: http://host:port/<bucket>/<key>.
struct S3Config {
  std::string endpoint;  // e.g. "http://127.0.0.1:9000" (no trailing path)
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  // S3_CA_FILE: the PEM CA bundle an https endpoint's certificate must chain to (e.g. MinIO with its own
  // CA); empty = the system's trust store. The host name is always verified.
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{5'000};
  // Whole-request limit; 0 means none (large streaming GETs rely on the stall timeout instead).
  std::chrono::milliseconds request_timeout{0};
  // A transfer that moves less than 1 byte/s for this long is abandoned (and retried).
  std::chrono::seconds stall_timeout{30};
  // Applied to every request that failed with a kRetryable error; max_attempts counts the first try.
  retry::BackoffPolicy retry{std::chrono::milliseconds(100), std::chrono::milliseconds(5'000), 2.0, 5};
};

// An inclusive byte range, as in the HTTP header "Range: bytes=first-last".
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

// A condition on a write (PutObject, CompleteMultipartUpload), checked by the server, which answers 412
// PreconditionFailed and writes nothing when it does not hold (MinIO honours both; see common/s3/README.md).
struct WriteCondition {
  // If-None-Match: * : only when no object has the key. An existing object with the very checksum of
  // the write counts as written (it is what a retried write finds when the first reply was lost).
  bool if_absent = false;
  std::string if_match_etag;  // If-Match: only over exactly this version (ETag without quotes)
};

struct PutOptions {
  std::string content_type;  // empty: the server's default (binary/octet-stream)
  Metadata metadata;
  // The SHA-256 the caller expects the body to have (base64 of the 32-byte digest), e.g. computed
  // where the file was produced. Empty: computed here from the body. Either way it is sent as
  // x-amz-checksum-sha256 and the server rejects the PUT (kChecksumMismatch) when the body differs.
  std::string checksum_sha256;
  WriteCondition condition;
};

struct PutResult {
  std::string etag;             // without quotes
  std::string checksum_sha256;  // as the server reports it: base64, or "base64-N" for multipart
};

struct ObjectInfo {
  uint64_t size = 0;  // whole object size (also for ranged GETs)
  std::string etag;   // without quotes
  std::string content_type;
  std::string last_modified;  // HTTP date as sent by the server
  Metadata metadata;          // names lower-case, without the x-amz-meta- prefix
  // Base64 SHA-256 the server stored: a full-object checksum, or "base64-N" (a checksum of the
  // N part checksums) for multipart uploads. Empty when the object was stored without one.
  std::string checksum_sha256;
};

struct ListOptions {
  std::string prefix;
  std::string continuation_token;  // from the previous page's next_continuation_token
  std::string start_after;
  std::string delimiter;  // e.g. "/" to get common_prefixes instead of deep keys
  int max_keys = 1000;    // the server caps it at 1000
};

struct ListEntry {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes
  std::string last_modified;
};

struct ListPage {
  std::vector<ListEntry> objects;
  std::vector<std::string> common_prefixes;
  std::string next_continuation_token;  // empty on the last page
  bool truncated = false;
};

struct UploadedPart {
  int part_number = 0;
  std::string etag;             // without quotes
  std::string checksum_sha256;  // base64 of this part's SHA-256
};

struct MultipartUploadInfo {
  std::string key;
  std::string upload_id;
};

// Receives the bytes of an object in order; throwing aborts the transfer and the exception reaches
// the caller unchanged.
using ChunkSink = std::function<void(std::string_view chunk)>;
// Like ChunkSink, but gets the buffer holding the chunk and may take it (move it away) instead of
// copying the bytes.
using BufferSink = std::function<void(std::string& chunk)>;

// Pulls the next bytes of an object into `out` (at most `max`), returning how many; 0 means the end.
// Called from worker threads, but never concurrently.
using DataSource = std::function<size_t(char* out, size_t max)>;

// A DataSource over bytes the caller keeps alive for the whole upload.
DataSource MemorySource(std::string_view data);

// Reads the next part of the data into `out` (resized to at most `max` bytes; fewer only at the end, 0
// at the end) and returns the SHA-256 of what it read, e.g. computed while the bytes were copied, so
// the part is not read twice. Called from worker threads, but never concurrently.
using PartSource = std::function<std::array<uint8_t, 32>(std::string& out, size_t max)>;

// What a conditional write does about an object that is in its way.
enum class OnExisting {
  kFail,     // throw the PreconditionFailed error
  kReplace,  // write again, over exactly that version (If-Match: its ETag), once
};

struct MultipartOptions {
  uint64_t part_size = 8ull << 20;  // 5 MiB..5 GiB (S3 limits); the last part may be smaller
  int concurrency = 4;              // parts in flight; memory use is about concurrency * part_size
  std::string content_type;
  Metadata metadata;
  // Tries per part in all (a retryable error is tried again with the client's backoff; the client does
  // not also retry a part's request on its own).
  int part_attempts = 5;
  // Hooks, each may be empty; called from the worker threads (thread-safe, short). A hook that throws
  // fails the upload with its exception (the upload is aborted).
  std::function<void()> on_part_retry;             // a part is about to be tried again
  std::function<void()> before_part;               // before each part is sent, and before Complete
  std::function<void(size_t bytes)> on_part_done;  // a part was stored
  // Once, from the thread that saw the first failure, before the others stop: e.g. to unblock a
  // source they may be waiting on.
  std::function<void()> on_failure;
  // Right before Complete, with every stored part in part order: a last check of what was sent.
  std::function<void(const std::vector<UploadedPart>& parts)> before_complete;
  // Complete's condition (see WriteCondition).
  WriteCondition condition;
  // When Complete fails its condition because another object (other content) has the key: what to do
  // with it. Empty: kFail.
  std::function<OnExisting(const ObjectInfo& existing)> on_existing;
};

}  // namespace rainbow::s3
