#include "services/s3-converter/src/s3_pipeline.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "common/crypto/sha256.hpp"
#include "common/retry/backoff.hpp"
#include "services/s3-converter/src/chunk_queue.hpp"

namespace rainbow::converter {

error::Kind KindOf(FailureReason reason, bool retryable) {
  switch (reason) {
    case FailureReason::kInvalidJson:
    case FailureReason::kWrongShape:
      return error::Kind::kInvalidArgument;
    case FailureReason::kNotFound:
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
        return {FailureReason::kNotFound, false, e.what()};
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
    case FailureReason::kNotFound:
      return "not_found";
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

ConvertResult ConvertObject(s3::S3Client& s3, const s3::BucketName& src_bucket, const s3::ObjectKey& src_key,
                            const std::string& expected_etag, const s3::BucketName& dst_bucket,
                            const s3::ObjectKey& dst_key, const PipelineOptions& options,
                            const PipelineHooks& hooks) {
  const auto started = std::chrono::steady_clock::now();
  ConvertResult result;
  result.output_bucket = dst_bucket.str();
  result.output_key = dst_key.str();

  s3::ObjectInfo head;
  try {
    head = s3.HeadObject(src_bucket, src_key);
  } catch (...) {
    throw Classify(std::current_exception());
  }
  if (!expected_etag.empty() && head.etag != expected_etag) {
    throw ConversionError(FailureReason::kSourceChanged, false,
                          "source " + src_bucket.str() + "/" + src_key.str() + " has ETag " + head.etag +
                              ", expected " + expected_etag + " (replaced by a newer version)");
  }
  result.source_etag = head.etag;
  // The SHA-256 the source declares: a full-object checksum (a composite "-N" one cannot be checked
  // without the part boundaries) or metadata sha256 (hex).
  std::string expected_b64;
  if (!head.checksum_sha256.empty() && head.checksum_sha256.find('-') == std::string::npos) {
    expected_b64 = head.checksum_sha256;
  }
  std::string expected_hex;
  if (auto it = head.metadata.find("sha256"); it != head.metadata.end()) {
    expected_hex = it->second;
    std::transform(expected_hex.begin(), expected_hex.end(), expected_hex.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }

  ChunkQueue queue(options.queue_bytes);
  // The SHA-256 of the whole XML is computed on the consumer side, in order as the bytes leave the
  // queue, so the converter thread (the pipeline's bottleneck) only converts and hashes the input.
  crypto::Sha256 out_hash;
  std::string out_b64;  // base64 of out_hash, once every byte was read
  auto finish_out_hash = [&] {
    const auto out_digest = out_hash.Final();
    result.sha256_hex = crypto::Hex(out_digest);
    out_b64 = crypto::Base64(out_digest);
  };
  // Polled between chunks and parts, and once more right before the output becomes visible: a worker
  // whose lease was taken over meanwhile must not publish (or overwrite) the object another worker
  // now owns.
  auto check_cancelled = [&] {
    if (hooks.cancelled && hooks.cancelled()) {
      throw ConversionError(FailureReason::kCancelled, false, "conversion cancelled");
    }
  };
  std::exception_ptr producer_error;
  std::thread producer([&] {
    try {
      // The input is hashed only when the source declares a SHA-256 to check it against.
      const bool verify_source = !expected_b64.empty() || !expected_hex.empty();
      crypto::Sha256 in_hash;
      XmlConverter converter(options.xml, XmlConverter::TakeBuffers{},
                             [&](std::string& chunk) { queue.PushBuffer(chunk); });
      const auto info = s3.DownloadParallel(src_bucket, src_key, options.download_part_size,
                                            options.download_concurrency, [&](std::string_view chunk) {
                                              check_cancelled();
                                              if (verify_source) in_hash.Update(chunk);
                                              if (hooks.on_bytes_in) hooks.on_bytes_in(chunk.size());
                                              converter.Feed(chunk);
                                            });
      converter.Finish();
      if (info.etag != head.etag) {
        throw ConversionError(
            FailureReason::kSourceChanged, false,
            "source changed while reading (ETag " + info.etag + ", expected " + head.etag + ")");
      }
      const auto in_digest = verify_source ? in_hash.Final() : std::array<uint8_t, 32>{};
      if (!expected_b64.empty() && crypto::Base64(in_digest) != expected_b64) {
        throw ConversionError(FailureReason::kChecksumMismatch, true,
                              "source SHA-256 mismatch: read " + crypto::Base64(in_digest) +
                                  ", object declares x-amz-checksum-sha256 " + expected_b64);
      }
      if (!expected_hex.empty() && crypto::Hex(in_digest) != expected_hex) {
        throw ConversionError(FailureReason::kChecksumMismatch, true,
                              "source SHA-256 mismatch: read " + crypto::Hex(in_digest) +
                                  ", object metadata sha256 says " + expected_hex);
      }
      result.bytes_in = converter.bytes_in();
      result.bytes_out = converter.bytes_out();
      result.records = converter.records();
      queue.Close();
    } catch (...) {
      producer_error = std::current_exception();
      queue.Fail(producer_error);
    }
  });

  // The root cause of a failure: the producer's own error unless it only saw the consumer cancel.
  auto fail = [&](std::exception_ptr consumer_error) -> ConversionError {
    queue.Cancel();
    if (producer.joinable()) producer.join();
    if (producer_error && !IsQueueCancelled(producer_error)) return Classify(producer_error);
    return Classify(consumer_error ? consumer_error : producer_error);
  };

  const size_t part_size = options.upload_part_size;
  std::string first;
  std::array<uint8_t, 32> first_digest{};
  try {
    first_digest = ReadPart(queue, first, part_size, out_hash);
  } catch (...) {
    throw fail(std::current_exception());
  }

  // A written output that failed verification (or could not be verified) is removed, best effort:
  // the file will be FAILED, and no object should stand for it in the output bucket.
  auto delete_output = [&] {
    try {
      s3.DeleteObject(dst_bucket, dst_key);
    } catch (...) {
    }
  };
  auto verify_head = [&](const std::string& expected_checksum) {
    const auto out_head = s3.HeadObject(dst_bucket, dst_key);
    if (out_head.size != result.bytes_out ||
        (!out_head.checksum_sha256.empty() && out_head.checksum_sha256 != expected_checksum)) {
      throw ConversionError(FailureReason::kVerifyFailed, true,
                            "uploaded object does not match: size " + std::to_string(out_head.size) + " vs " +
                                std::to_string(result.bytes_out) + ", checksum " + out_head.checksum_sha256 +
                                " vs " + expected_checksum);
    }
  };

  if (first.size() < part_size) {
    // Everything fits in one part: one PutObject, whose full-object checksum S3 verifies.
    producer.join();
    if (producer_error) throw Classify(producer_error);
    bool put_done = false;
    try {
      finish_out_hash();
      check_cancelled();
      s3::PutOptions put;
      put.content_type = kContentType;
      put.metadata = {{"source-etag", head.etag}, {"sha256", result.sha256_hex}};
      put.checksum_sha256 = out_b64;
      const auto put_result = s3.PutObject(dst_bucket, dst_key, first, put);
      put_done = true;
      if (!put_result.checksum_sha256.empty() && put_result.checksum_sha256 != out_b64) {
        throw ConversionError(FailureReason::kVerifyFailed, true,
                              "S3 reports checksum " + put_result.checksum_sha256 + ", sent " + out_b64);
      }
      verify_head(out_b64);
    } catch (...) {
      if (put_done) delete_output();
      throw Classify(std::current_exception());
    }
    if (hooks.on_bytes_out) hooks.on_bytes_out(first.size());
    result.checksum_sha256 = out_b64;
    result.parts = 1;
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
  }

  std::string upload_id;
  try {
    s3::PutOptions create;
    create.content_type = kContentType;
    create.metadata = {{"source-etag", head.etag}};
    upload_id = s3.CreateMultipartUpload(dst_bucket, dst_key, create);
  } catch (...) {
    throw fail(std::current_exception());
  }

  std::mutex read_mu;
  std::string carry = std::move(first);
  int next_part = 1;
  bool source_done = false;
  std::mutex parts_mu;
  std::vector<s3::UploadedPart> parts;
  uint64_t bytes_sent = 0;
  std::atomic<bool> failed{false};
  std::stop_source stop_parts;  // requested once a part failed: the other workers stop retrying theirs
  std::exception_ptr consumer_error;

  auto worker = [&] {
    try {
      // One part buffer per worker, reused: after the first part, ReadPart neither allocates nor
      // zero-fills (and touches no fresh pages).
      std::string buf;
      std::array<uint8_t, 32> digest{};
      for (;;) {
        int number;
        {
          std::lock_guard lock(read_mu);
          if (failed || source_done) return;
          if (!carry.empty()) {
            buf = std::move(carry);
            carry.clear();
            digest = first_digest;
          } else {
            digest = ReadPart(queue, buf, part_size, out_hash);  // in order: reads are serialized by read_mu
          }
          if (buf.empty()) {
            source_done = true;
            return;
          }
          if (buf.size() < part_size) source_done = true;
          number = next_part++;
        }
        check_cancelled();
        const retry::BackoffPolicy part_retry{std::chrono::milliseconds(200),
                                              std::chrono::milliseconds(1'000), 2.0, options.part_attempts};
        const s3::UploadedPart part = retry::WithRetry(
            stop_parts.get_token(), part_retry,
            [&] { return s3.UploadPart(dst_bucket, dst_key, upload_id, number, buf, digest); },
            [&](const std::exception& e) {
              const auto* s3_error = dynamic_cast<const s3::S3Error*>(&e);
              if (s3_error == nullptr || !s3_error->retryable() || failed) return false;
              if (hooks.on_part_retry) hooks.on_part_retry();
              return true;
            });
        if (hooks.on_bytes_out) hooks.on_bytes_out(buf.size());
        std::lock_guard lock(parts_mu);
        parts.push_back(part);
        bytes_sent += buf.size();
      }
    } catch (...) {
      std::lock_guard lock(parts_mu);
      if (!consumer_error) consumer_error = std::current_exception();
      failed = true;
      stop_parts.request_stop();
      queue.Cancel();
    }
  };

  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, options.upload_concurrency); ++i) workers.emplace_back(worker);
  for (auto& t : workers) t.join();

  auto abort_upload = [&] {
    try {
      s3.AbortMultipartUpload(dst_bucket, dst_key, upload_id);
    } catch (...) {
    }
  };
  if (failed) {
    const auto error = fail(consumer_error);
    abort_upload();
    throw error;
  }
  producer.join();
  if (producer_error) {
    abort_upload();
    throw Classify(producer_error);
  }

  bool completed = false;
  try {
    finish_out_hash();
    // Verify before Complete: parts 1..N without gaps, each with the SHA-256 it was sent with (as
    // x-amz-checksum-sha256, which S3 checked against the bytes it received), and every byte the
    // converter produced sent exactly once. After Complete, S3's composite checksum must equal the one
    // computed here from those part digests, and HEAD must show the same size and checksum.
    std::sort(parts.begin(), parts.end(),
              [](const auto& a, const auto& b) { return a.part_number < b.part_number; });
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].part_number != static_cast<int>(i + 1) || parts[i].checksum_sha256.size() != 44) {
        throw ConversionError(FailureReason::kVerifyFailed, true,
                              "part " + std::to_string(i + 1) + " missing or without its checksum");
      }
    }
    if (bytes_sent != result.bytes_out) {
      throw ConversionError(FailureReason::kVerifyFailed, true,
                            "sent " + std::to_string(bytes_sent) + " bytes, converter produced " +
                                std::to_string(result.bytes_out));
    }
    const std::string composite = s3::CompositeChecksum(parts);
    check_cancelled();
    const auto done = s3.CompleteMultipartUpload(dst_bucket, dst_key, upload_id, parts);
    completed = true;
    if (!done.checksum_sha256.empty() && done.checksum_sha256 != composite) {
      throw ConversionError(FailureReason::kVerifyFailed, true,
                            "S3 reports checksum " + done.checksum_sha256 + ", parts sent give " + composite);
    }
    verify_head(composite);
    result.checksum_sha256 = composite;
  } catch (...) {
    if (completed) {
      delete_output();
    } else {
      abort_upload();
    }
    throw Classify(std::current_exception());
  }
  result.parts = static_cast<int>(parts.size());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace rainbow::converter
