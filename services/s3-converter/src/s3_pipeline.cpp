#include "services/s3-converter/src/s3_pipeline.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "common/crypto/sha256.hpp"
#include "services/s3-converter/src/chunk_queue.hpp"

namespace rainbow::converter {

error::Kind KindOf(FailureReason reason, bool retryable) {
  switch (reason) {
    case FailureReason::kInvalidJson:
    case FailureReason::kWrongShape:
      return error::Kind::kInvalidArgument;
    case FailureReason::kSourceRemoved:
      return error::Kind::kNotFound;
    case FailureReason::kSourceChanged:
      return error::Kind::kConflict;
    default:
      return retryable ? error::Kind::kRetryable : error::Kind::kPermanent;
  }
}

namespace {

constexpr const char* kContentType = "application/xml";

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Maps whatever a stage threw to the error the worker reports.
ConversionError Classify(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ConversionError& e) {
    return e;
  } catch (const JsonError& e) {
    return {FailureReason::kInvalidJson, false, e.what()};
  } catch (const ShapeError& e) {
    return {FailureReason::kWrongShape, false, std::string("wrong JSON shape: ") + e.what()};
  } catch (const s3::S3Error& e) {
    switch (e.s3_kind()) {
      case s3::S3ErrorKind::kNotFound:
        // Reads of the source map their NotFound to kSourceRemoved (ReadingSource); any other is the
        // output side's (a missing output bucket, an unknown upload): S3's, permanent.
        return {FailureReason::kS3, false, e.what()};
      case s3::S3ErrorKind::kChecksumMismatch:
        return {FailureReason::kChecksumMismatch, true, e.what()};
      case s3::S3ErrorKind::kRetryable:
        return {FailureReason::kS3, true, e.what()};
      default:
        // PreconditionFailed on a pinned ranged GET: the object was replaced while we read it.
        if (e.code() == "PreconditionFailed") return {FailureReason::kSourceChanged, false, e.what()};
        return {FailureReason::kS3, false, e.what()};
    }
  } catch (const ChunkQueue::QueueCancelled& e) {
    return {FailureReason::kCancelled, false, e.what()};
  } catch (const std::exception& e) {
    return {FailureReason::kInternal, true, e.what()};
  }
}

bool IsQueueCancelled(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ChunkQueue::QueueCancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Fills `out` with up to `max` bytes from the queue (fewer only at the end of the data) and returns
// their SHA-256. Each piece is hashed into `whole` (the whole output, in order) and into the part's
// own digest right after it was copied, while it is still in cache: one pass over the bytes for both.
std::array<uint8_t, 32> ReadPart(ChunkQueue& queue, std::string& out, size_t max, crypto::Sha256& whole) {
  crypto::Sha256 part;
  out.resize(max);
  size_t n = 0;
  while (n < max) {
    const size_t got = queue.Read(out.data() + n, max - n);
    if (got == 0) break;
    const std::string_view piece(out.data() + n, got);
    whole.Update(piece);
    part.Update(piece);
    n += got;
  }
  out.resize(n);
  return part.Final();
}

}  // namespace

std::string_view ToString(FailureReason reason) {
  switch (reason) {
    case FailureReason::kInvalidJson:
      return "invalid_json";
    case FailureReason::kWrongShape:
      return "wrong_shape";
    case FailureReason::kSourceRemoved:
      return "source_removed";
    case FailureReason::kSourceChanged:
      return "source_changed";
    case FailureReason::kChecksumMismatch:
      return "checksum_mismatch";
    case FailureReason::kS3:
      return "s3";
    case FailureReason::kVerifyFailed:
      return "verify_failed";
    case FailureReason::kCancelled:
      return "cancelled";
    case FailureReason::kForbiddenBucket:
      return "forbidden_bucket";
    case FailureReason::kInternal:
      return "internal";
  }
  return "internal";
}

std::string OutputKeyFor(const std::string& key) {
  for (std::string_view ext : {".json", ".jsonl", ".ndjson"}) {
    if (EndsWith(key, ext)) return key.substr(0, key.size() - ext.size()) + ".xml";
  }
  return key + ".xml";
}

namespace {

// The SHA-256 a source object declares for itself, to check the bytes read against: a full-object
// checksum (a composite "-N" one cannot be checked without the part boundaries) or metadata sha256
// (hex). Both empty when it declares none.
struct SourceDigest {
  std::string base64;
  std::string hex;

  bool declared() const { return !base64.empty() || !hex.empty(); }
  // Throws kChecksumMismatch unless `digest` (of the bytes read) matches what the source declares.
  void Check(const std::array<uint8_t, 32>& digest) const {
    if (!base64.empty() && crypto::Base64(digest) != base64) {
      throw ConversionError(FailureReason::kChecksumMismatch, true,
                            "source SHA-256 mismatch: read " + crypto::Base64(digest) +
                                ", object declares x-amz-checksum-sha256 " + base64);
    }
    if (!hex.empty() && crypto::Hex(digest) != hex) {
      throw ConversionError(
          FailureReason::kChecksumMismatch, true,
          "source SHA-256 mismatch: read " + crypto::Hex(digest) + ", object metadata sha256 says " + hex);
    }
  }
};

SourceDigest DeclaredDigest(const s3::ObjectInfo& head) {
  SourceDigest d;
  if (!head.checksum_sha256.empty() && head.checksum_sha256.find('-') == std::string::npos) {
    d.base64 = head.checksum_sha256;
  }
  if (auto it = head.metadata.find("sha256"); it != head.metadata.end()) {
    d.hex = it->second;
    std::transform(d.hex.begin(), d.hex.end(), d.hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return d;
}

// One conversion, as ConvertObject documents it: a producer thread downloads and converts into the
// queue; the calling thread uploads what leaves it, as one PUT (PutWhole) or in parts (PutParts).
// Owned by ConvertObject's frame; the producer thread shares it.
class Conversion {
 public:
  Conversion(s3::S3Client& s3, const s3::BucketName& src_bucket, const s3::ObjectKey& src_key,
             const s3::BucketName& dst_bucket, const s3::ObjectKey& dst_key, const PipelineOptions& options,
             const PipelineHooks& hooks)
      : s3_(s3),
        src_bucket_(src_bucket),
        src_key_(src_key),
        dst_bucket_(dst_bucket),
        dst_key_(dst_key),
        options_(options),
        hooks_(hooks),
        queue_(options.queue_bytes) {
    result_.output_bucket = dst_bucket.str();
    result_.output_key = dst_key.str();
  }
  ~Conversion() {
    if (producer_.joinable()) {
      queue_.Cancel();
      producer_.join();
    }
  }

  ConvertResult Run(const std::string& expected_etag);

 private:
  void ReadHead(const std::string& expected_etag);
  void Produce();
  // Polled between chunks and parts, and once more right before the output becomes visible: a worker
  // whose lease was taken over meanwhile must not publish (or overwrite) the object another worker
  // now owns.
  void CheckCancelled() const {
    if (hooks_.cancelled && hooks_.cancelled()) {
      throw ConversionError(FailureReason::kCancelled, false, "conversion cancelled");
    }
  }
  // Runs a read of the source object: its NotFound means the object was deleted (kSourceRemoved, and
  // the file ends REMOVED), except for a missing bucket, which is a setup error. A HEAD's 404 has no
  // body to say which (AWS sends code NotFound for both): the bucket is then checked by a listing.
  template <typename Read>
  auto ReadingSource(Read&& read) const {
    try {
      return read();
    } catch (const s3::S3Error& e) {
      if (e.s3_kind() != s3::S3ErrorKind::kNotFound || e.code() == "NoSuchBucket") throw;
      if (e.code() != "NoSuchKey") {
        s3::ListOptions one;
        one.max_keys = 1;
        s3_.ListObjectsV2(src_bucket_, one);  // throws NoSuchBucket when the bucket is what is missing
      }
      throw ConversionError(
          FailureReason::kSourceRemoved, false,
          "source " + src_bucket_.str() + "/" + src_key_.str() + " no longer exists: " + e.what());
    }
  }
  // Joins the producer; rethrows its error.
  void JoinProducer() {
    if (producer_.joinable()) producer_.join();
    if (producer_error_) std::rethrow_exception(producer_error_);
  }
  // The root cause of a failure: the producer's own error unless it only saw the consumer cancel.
  ConversionError Fail(std::exception_ptr consumer_error) {
    queue_.Cancel();
    if (producer_.joinable()) producer_.join();
    if (producer_error_ && !IsQueueCancelled(producer_error_)) return Classify(producer_error_);
    return Classify(consumer_error ? consumer_error : producer_error_);
  }
  void FinishOutputHash() {
    const auto digest = out_hash_.Final();
    result_.sha256_hex = crypto::Hex(digest);
    out_b64_ = crypto::Base64(digest);
  }
  void PutWhole(const std::string& xml);
  void PutParts(std::string first, const std::array<uint8_t, 32>& first_digest);
  void CheckParts(const std::vector<s3::UploadedPart>& parts);
  void VerifyHead(const std::string& expected_checksum);
  s3::OnExisting OnExistingOutput(const s3::ObjectInfo& existing);
  // A written output that failed verification (or could not be verified) is removed, best effort:
  // the file will be FAILED, and no object should stand for it in the output bucket. Only the version
  // this conversion wrote is deleted, never an object another writer put there meanwhile.
  void DeleteOutput() noexcept {
    if (written_etag_.empty()) return;
    try {
      s3_.DeleteObjectIfMatch(dst_bucket_, dst_key_, written_etag_);
    } catch (...) {
    }
  }

  s3::S3Client& s3_;
  const s3::BucketName& src_bucket_;
  const s3::ObjectKey& src_key_;
  const s3::BucketName& dst_bucket_;
  const s3::ObjectKey& dst_key_;
  const PipelineOptions& options_;
  const PipelineHooks& hooks_;
  s3::ObjectInfo head_;
  SourceDigest source_digest_;
  ChunkQueue queue_;
  // The SHA-256 of the whole XML is computed on the consumer side, in order as the bytes leave the
  // queue, so the converter thread (the pipeline's bottleneck) only converts and hashes the input.
  crypto::Sha256 out_hash_;
  std::string out_b64_;  // base64 of out_hash_, once every byte was read
  ConvertResult result_;
  std::string written_etag_;  // the output version this conversion wrote (for DeleteOutput)
  std::exception_ptr producer_error_;
  std::thread producer_;
};

void Conversion::ReadHead(const std::string& expected_etag) {
  try {
    head_ = ReadingSource([&] { return s3_.HeadObject(src_bucket_, src_key_); });
  } catch (...) {
    throw Classify(std::current_exception());
  }
  if (!expected_etag.empty() && head_.etag != expected_etag) {
    throw ConversionError(FailureReason::kSourceChanged, false,
                          "source " + src_bucket_.str() + "/" + src_key_.str() + " has ETag " + head_.etag +
                              ", expected " + expected_etag + " (replaced by a newer version)");
  }
  result_.source_etag = head_.etag;
  source_digest_ = DeclaredDigest(head_);
}

// The producer thread: download -> (input SHA-256, when the source declares one) -> XmlConverter ->
// its buffers into the queue without a copy; closes the queue, or fails it with the error.
void Conversion::Produce() {
  try {
    const bool verify_source = source_digest_.declared();
    crypto::Sha256 in_hash;
    XmlConverter converter(options_.xml, XmlConverter::TakeBuffers{},
                           [&](std::string& chunk) { queue_.PushBuffer(chunk); });
    const auto info = ReadingSource([&] {
      return s3_.DownloadParallel(src_bucket_, src_key_, options_.download_part_size,
                                  options_.download_concurrency, [&](std::string_view chunk) {
                                    CheckCancelled();
                                    if (verify_source) in_hash.Update(chunk);
                                    if (hooks_.on_bytes_in) hooks_.on_bytes_in(chunk.size());
                                    converter.Feed(chunk);
                                  });
    });
    converter.Finish();
    if (info.etag != head_.etag) {
      throw ConversionError(
          FailureReason::kSourceChanged, false,
          "source changed while reading (ETag " + info.etag + ", expected " + head_.etag + ")");
    }
    if (verify_source) source_digest_.Check(in_hash.Final());
    result_.bytes_in = converter.bytes_in();
    result_.bytes_out = converter.bytes_out();
    result_.records = converter.records();
    queue_.Close();
  } catch (...) {
    producer_error_ = std::current_exception();
    queue_.Fail(producer_error_);
  }
}

ConvertResult Conversion::Run(const std::string& expected_etag) {
  const auto started = std::chrono::steady_clock::now();
  ReadHead(expected_etag);
  producer_ = std::thread([this] { Produce(); });
  const size_t part_size = options_.upload_part_size;
  std::string first;
  std::array<uint8_t, 32> first_digest{};
  try {
    first_digest = ReadPart(queue_, first, part_size, out_hash_);
  } catch (...) {
    throw Fail(std::current_exception());
  }
  if (first.size() < part_size) {
    PutWhole(first);
  } else {
    PutParts(std::move(first), first_digest);
  }
  result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result_;
}

// Everything fits in one part: one PutObject, whose full-object checksum S3 verifies.
void Conversion::PutWhole(const std::string& xml) {
  try {
    JoinProducer();
  } catch (...) {
    throw Classify(std::current_exception());
  }
  bool put_done = false;
  try {
    FinishOutputHash();
    CheckCancelled();
    s3::PutOptions put;
    put.content_type = kContentType;
    put.metadata = {{"source-etag", head_.etag}, {"sha256", result_.sha256_hex}};
    if (!options_.writer.empty()) put.metadata["writer"] = options_.writer;
    put.checksum_sha256 = out_b64_;
    put.condition.if_absent = true;
    s3::PutResult put_result;
    try {
      put_result = s3_.PutObject(dst_bucket_, dst_key_, xml, put);
    } catch (const s3::S3Error& e) {
      if (e.code() != "PreconditionFailed") throw;
      const auto existing = s3_.HeadObject(dst_bucket_, dst_key_);
      if (OnExistingOutput(existing) != s3::OnExisting::kReplace) throw;
      put.condition = {false, existing.etag};
      put_result = s3_.PutObject(dst_bucket_, dst_key_, xml, put);
    }
    written_etag_ = put_result.etag;
    result_.output_etag = written_etag_;
    put_done = true;
    if (!put_result.checksum_sha256.empty() && put_result.checksum_sha256 != out_b64_) {
      throw ConversionError(FailureReason::kVerifyFailed, true,
                            "S3 reports checksum " + put_result.checksum_sha256 + ", sent " + out_b64_);
    }
    VerifyHead(out_b64_);
  } catch (...) {
    if (put_done) DeleteOutput();
    throw Classify(std::current_exception());
  }
  if (hooks_.on_bytes_out) hooks_.on_bytes_out(xml.size());
  result_.checksum_sha256 = out_b64_;
  result_.parts = 1;
}

// The rest by multipart upload (common/s3's UploadParts): each part read from the queue with its
// digest in one pass, sent by upload_concurrency threads; checked before Complete, verified after.
void Conversion::PutParts(std::string first, const std::array<uint8_t, 32>& first_digest) {
  std::atomic<uint64_t> bytes_sent{0};
  std::string composite;
  s3::MultipartOptions upload;
  upload.part_size = options_.upload_part_size;
  upload.concurrency = std::max(1, options_.upload_concurrency);
  upload.content_type = kContentType;
  upload.metadata = {{"source-etag", head_.etag}};
  if (!options_.writer.empty()) upload.metadata["writer"] = options_.writer;
  upload.part_attempts = options_.part_attempts;
  upload.on_part_retry = hooks_.on_part_retry;
  upload.before_part = [this] { CheckCancelled(); };
  upload.on_part_done = [&](size_t bytes) {
    bytes_sent += bytes;
    if (hooks_.on_bytes_out) hooks_.on_bytes_out(bytes);
  };
  upload.on_failure = [this] { queue_.Cancel(); };
  upload.condition.if_absent = true;
  upload.on_existing = [this](const s3::ObjectInfo& existing) { return OnExistingOutput(existing); };
  upload.before_complete = [&](const std::vector<s3::UploadedPart>& parts) {
    JoinProducer();
    FinishOutputHash();
    CheckParts(parts);
    if (bytes_sent != result_.bytes_out) {
      throw ConversionError(FailureReason::kVerifyFailed, true,
                            "sent " + std::to_string(bytes_sent.load()) + " bytes, converter produced " +
                                std::to_string(result_.bytes_out));
    }
    composite = s3::CompositeChecksum(parts);
    result_.parts = static_cast<int>(parts.size());
  };
  const s3::PartSource source = [this](std::string& out, size_t max) {
    return ReadPart(queue_, out, max, out_hash_);
  };
  s3::PutResult done;
  try {
    done = s3_.UploadParts(dst_bucket_, dst_key_, source, upload, std::move(first), first_digest);
    written_etag_ = done.etag;
    result_.output_etag = written_etag_;
  } catch (...) {
    throw Fail(std::current_exception());
  }
  // After Complete, S3's composite checksum must equal the one computed from the part digests, and
  // HEAD must show the same size and checksum.
  try {
    if (!done.checksum_sha256.empty() && done.checksum_sha256 != composite) {
      throw ConversionError(FailureReason::kVerifyFailed, true,
                            "S3 reports checksum " + done.checksum_sha256 + ", parts sent give " + composite);
    }
    VerifyHead(composite);
  } catch (...) {
    DeleteOutput();
    throw Classify(std::current_exception());
  }
  result_.checksum_sha256 = composite;
}

// Parts 1..N without gaps, each with the SHA-256 it was sent with (as x-amz-checksum-sha256, which S3
// checked against the bytes it received).
void Conversion::CheckParts(const std::vector<s3::UploadedPart>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].part_number != static_cast<int>(i + 1) || parts[i].checksum_sha256.size() != 44) {
      throw ConversionError(FailureReason::kVerifyFailed, true,
                            "part " + std::to_string(i + 1) + " missing or without its checksum");
    }
  }
}

// Another object (other content) has the output key: the output of an older version of the source, or
// of a writer whose lease was taken over. Replace exactly that version, and only while this conversion
// is current: its lease still held (cancelled() false) and the source still the version converted. A
// stale writer fails one of these checks and leaves the object alone.
s3::OnExisting Conversion::OnExistingOutput(const s3::ObjectInfo& existing) {
  CheckCancelled();
  const auto source = ReadingSource([&] { return s3_.HeadObject(src_bucket_, src_key_); });
  if (source.etag != head_.etag) {
    throw ConversionError(FailureReason::kSourceChanged, false,
                          "source replaced (ETag " + source.etag + ", converted " + head_.etag +
                              "): leaving the output " + dst_key_.str() + " (ETag " + existing.etag +
                              ") alone");
  }
  return s3::OnExisting::kReplace;
}

void Conversion::VerifyHead(const std::string& expected_checksum) {
  const auto out_head = s3_.HeadObject(dst_bucket_, dst_key_);
  if (out_head.size != result_.bytes_out ||
      (!out_head.checksum_sha256.empty() && out_head.checksum_sha256 != expected_checksum)) {
    throw ConversionError(FailureReason::kVerifyFailed, true,
                          "uploaded object does not match: size " + std::to_string(out_head.size) + " vs " +
                              std::to_string(result_.bytes_out) + ", checksum " + out_head.checksum_sha256 +
                              " vs " + expected_checksum);
  }
}

}  // namespace

ConvertResult ConvertObject(s3::S3Client& s3, const s3::BucketName& src_bucket, const s3::ObjectKey& src_key,
                            const std::string& expected_etag, const s3::BucketName& dst_bucket,
                            const s3::ObjectKey& dst_key, const PipelineOptions& options,
                            const PipelineHooks& hooks) {
  Conversion conversion(s3, src_bucket, src_key, dst_bucket, dst_key, options, hooks);
  return conversion.Run(expected_etag);
}

}  // namespace rainbow::converter
