// The S3 -> S3 conversion pipeline against the real MinIO of the test stack: single-part and multipart
// outputs with checksums that verify, JSON lines, and every failure (invalid JSON late in a multipart
// output, wrong shape, checksum mismatch, missing or replaced source) leaving no object and no
// multipart upload behind.
#include <gtest/gtest.h>

#include "common/crypto/sha256.hpp"
#include "services/s3-converter/src/s3_pipeline.hpp"
#include "tests/support/files_stack.hpp"

namespace rainbow::converter {
namespace {

using namespace files_test;
using testing::UniqueName;

const s3::BucketName kRaw("raw");
const s3::BucketName kConverted("converted");

// About `bytes` of a JSON array of product-like objects.
std::string Products(size_t bytes, bool lines = false) {
  std::string out = lines ? "" : "[";
  for (int i = 0; out.size() < bytes; ++i) {
    if (i && !lines) out += ",";
    out +=
        R"({"ean":")" + std::to_string(5713447649590 + i) + R"(","name":"Knit & <Pullover> \")" +
        std::to_string(i) +
        R"(\"","price":39.99,"countryOfOrigin":[{"language":"English","value":"BD"}],"tags":["a","b"],"life":{"created":"2018-09-13","ok":true,"gone":null}})";
    if (lines) out += "\n";
  }
  if (!lines) out += "]";
  return out;
}

PipelineOptions SmallParts() {
  PipelineOptions o;
  o.upload_part_size = 5ull << 20;
  o.upload_concurrency = 3;
  o.download_part_size = 1ull << 20;
  o.download_concurrency = 3;
  return o;
}

struct Pipeline : ::testing::Test {
  s3::S3Client s3c{S3FromEnv()};
  std::string dir = UniqueName("pipeline");

  ConversionError ExpectFailure(const std::string& key, const std::string& expected_etag = "") {
    const s3::ObjectKey out(OutputKeyFor(key));
    try {
      ConvertObject(s3c, kRaw, s3::ObjectKey(key), expected_etag, kConverted, out, SmallParts());
    } catch (const ConversionError& e) {
      // Nothing visible, nothing pending.
      EXPECT_THROW(s3c.HeadObject(kConverted, out), s3::S3Error) << "an output object was left behind";
      EXPECT_TRUE(s3c.ListMultipartUploads(kConverted, out.str()).empty())
          << "a multipart upload was not aborted";
      return e;
    }
    ADD_FAILURE() << "conversion of " << key << " did not fail";
    return {FailureReason::kInternal, false, "no failure"};
  }
};

TEST_F(Pipeline, SmallFileOnePartWithVerifiedChecksum) {
  const std::string key = dir + "/small.json";
  const std::string json = Products(20'000);
  s3c.PutObject(kRaw, s3::ObjectKey(key), json);
  const auto r = ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted,
                               s3::ObjectKey(OutputKeyFor(key)), SmallParts());
  const std::string expected = ConvertToXml(json);
  EXPECT_EQ(r.output_key, dir + "/small.xml");
  EXPECT_EQ(r.parts, 1);
  EXPECT_EQ(r.bytes_in, json.size());
  EXPECT_EQ(r.bytes_out, expected.size());
  EXPECT_EQ(r.sha256_hex, crypto::Sha256Hex(expected));
  EXPECT_EQ(s3c.GetObject(kConverted, s3::ObjectKey(r.output_key)), expected);
  const auto head = s3c.HeadObject(kConverted, s3::ObjectKey(r.output_key));
  EXPECT_EQ(head.metadata.at("sha256"), r.sha256_hex);
  EXPECT_EQ(head.checksum_sha256, crypto::Sha256Base64(expected));
  EXPECT_EQ(head.content_type, "application/xml");
}

TEST_F(Pipeline, LargeFileMultipartWithCompositeChecksum) {
  const std::string key = dir + "/large.json";
  const std::string json = Products(9u << 20);
  // The source declares its SHA-256 (metadata, hex): verified while reading.
  s3::PutOptions put;
  put.metadata["sha256"] = crypto::Sha256Hex(json);
  s3c.PutObject(kRaw, s3::ObjectKey(key), json, put);
  int retries = 0;
  PipelineHooks hooks;
  hooks.on_part_retry = [&] { ++retries; };
  const auto r = ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted,
                               s3::ObjectKey(OutputKeyFor(key)), SmallParts(), hooks);
  const std::string expected = ConvertToXml(json);
  EXPECT_GT(r.parts, 2);
  EXPECT_EQ(r.bytes_out, expected.size());
  EXPECT_EQ(r.sha256_hex, crypto::Sha256Hex(expected));
  const std::string got = s3c.GetObject(kConverted, s3::ObjectKey(r.output_key));
  EXPECT_TRUE(got == expected) << "multipart output differs (" << got.size() << " vs " << expected.size()
                               << " bytes)";
  const auto head = s3c.HeadObject(kConverted, s3::ObjectKey(r.output_key));
  EXPECT_EQ(head.checksum_sha256, r.checksum_sha256);
  EXPECT_NE(head.checksum_sha256.find("-" + std::to_string(r.parts)), std::string::npos)
      << head.checksum_sha256;
  EXPECT_EQ(head.metadata.at("source-etag"), r.source_etag);
  EXPECT_EQ(retries, 0);
}

TEST_F(Pipeline, JsonLines) {
  const std::string key = dir + "/lines.jsonl";
  const std::string json = Products(5'000, true);
  s3c.PutObject(kRaw, s3::ObjectKey(key), json);
  const auto r = ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted,
                               s3::ObjectKey(OutputKeyFor(key)), SmallParts());
  EXPECT_EQ(r.output_key, dir + "/lines.xml");
  EXPECT_EQ(s3c.GetObject(kConverted, s3::ObjectKey(r.output_key)), ConvertToXml(Products(5'000, false)));
}

TEST_F(Pipeline, InvalidJsonAfterSeveralPartsAbortsTheUpload) {
  const std::string key = dir + "/late-error.json";
  std::string json = Products(12u << 20);
  json.pop_back();
  json += R"(,{"a":}])";  // broken at the very end: parts were already uploaded
  s3c.PutObject(kRaw, s3::ObjectKey(key), json);
  const auto e = ExpectFailure(key);
  EXPECT_EQ(e.reason(), FailureReason::kInvalidJson);
  EXPECT_FALSE(e.retryable());
  EXPECT_NE(std::string(e.what()).find("invalid JSON at byte"), std::string::npos) << e.what();
}

TEST_F(Pipeline, WrongShape) {
  const std::string key = dir + "/shape.json";
  s3c.PutObject(kRaw, s3::ObjectKey(key), R"([{"a":1}, 2])");
  const auto e = ExpectFailure(key);
  EXPECT_EQ(e.reason(), FailureReason::kWrongShape);
  EXPECT_NE(std::string(e.what()).find("item 2 of the top-level array is a number"), std::string::npos)
      << e.what();
}

TEST_F(Pipeline, SourceChecksumMismatch) {
  const std::string key = dir + "/tampered.json";
  s3::PutOptions put;
  put.metadata["sha256"] = crypto::Sha256Hex("something else");
  s3c.PutObject(kRaw, s3::ObjectKey(key), Products(1000), put);
  const auto e = ExpectFailure(key);
  EXPECT_EQ(e.reason(), FailureReason::kChecksumMismatch);
  EXPECT_TRUE(e.retryable());
  EXPECT_NE(std::string(e.what()).find("SHA-256 mismatch"), std::string::npos) << e.what();
}

TEST_F(Pipeline, MissingAndReplacedSource) {
  const auto missing = ExpectFailure(dir + "/missing.json");
  EXPECT_EQ(missing.reason(), FailureReason::kSourceRemoved);
  EXPECT_FALSE(missing.retryable());
  const std::string key = dir + "/replaced.json";
  const auto v1 = s3c.PutObject(kRaw, s3::ObjectKey(key), "[]");
  s3c.PutObject(kRaw, s3::ObjectKey(key), "[{}]");
  const auto replaced = ExpectFailure(key, v1.etag);
  EXPECT_EQ(replaced.reason(), FailureReason::kSourceChanged);
}

TEST_F(Pipeline, CancelStopsAndAborts) {
  const std::string key = dir + "/cancel.json";
  s3c.PutObject(kRaw, s3::ObjectKey(key), Products(12u << 20));
  PipelineHooks hooks;
  std::atomic<uint64_t> read{0};
  hooks.on_bytes_in = [&](uint64_t n) { read += n; };
  hooks.cancelled = [&] { return read > (7u << 20); };
  const s3::ObjectKey out(OutputKeyFor(key));
  try {
    ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted, out, SmallParts(), hooks);
    FAIL() << "not cancelled";
  } catch (const ConversionError& e) {
    EXPECT_EQ(e.reason(), FailureReason::kCancelled) << e.what();
  }
  EXPECT_THROW(s3c.HeadObject(kConverted, out), s3::S3Error);
  EXPECT_TRUE(s3c.ListMultipartUploads(kConverted, out.str()).empty());
}

// A lease lost after the last byte was read or sent (another worker owns the file now) must still
// keep the output from becoming visible: the check right before PutObject / CompleteMultipartUpload.
TEST_F(Pipeline, CancelAfterTheLastByteStillPublishesNothing) {
  for (const size_t size : {size_t{20'000}, size_t{9u << 20}}) {
    const std::string key = dir + "/late-cancel-" + std::to_string(size) + ".json";
    const std::string json = Products(size);
    const uint64_t xml_bytes = ConvertToXml(json).size();
    s3c.PutObject(kRaw, s3::ObjectKey(key), json);
    PipelineHooks hooks;
    std::atomic<uint64_t> read{0}, sent{0};
    hooks.on_bytes_in = [&](uint64_t n) { read += n; };
    hooks.on_bytes_out = [&](uint64_t n) { sent += n; };
    // One part: cancelled once the whole input is read. Several: once every part is uploaded.
    const bool one_part = size < SmallParts().upload_part_size;
    hooks.cancelled = [&] { return one_part ? read == json.size() : sent == xml_bytes; };
    const s3::ObjectKey out(OutputKeyFor(key));
    try {
      ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted, out, SmallParts(), hooks);
      ADD_FAILURE() << "not cancelled: " << size;
    } catch (const ConversionError& e) {
      EXPECT_EQ(e.reason(), FailureReason::kCancelled) << e.what();
    }
    if (!one_part) {
      EXPECT_EQ(sent, xml_bytes) << "every part was sent before the cancel";
    }
    EXPECT_THROW(s3c.HeadObject(kConverted, out), s3::S3Error) << size;
    EXPECT_TRUE(s3c.ListMultipartUploads(kConverted, out.str()).empty()) << size;
  }
}

// The output is written with If-None-Match: *. An object already there with the same content is kept
// (a second conversion of the same version succeeds); one with other content is replaced only while
// the source is still the version converted: a writer whose source was replaced meanwhile (a stale
// writer) leaves the newer output alone, and the file fails with kSourceChanged.
TEST_F(Pipeline, ConditionalWriteNeverOverwritesAsAStaleWriter) {
  for (const size_t size : {size_t{20'000}, size_t{9u << 20}}) {
    const std::string key = dir + "/stale-" + std::to_string(size) + ".json";
    const s3::ObjectKey out(OutputKeyFor(key));
    const std::string json = Products(size);
    s3c.PutObject(kRaw, s3::ObjectKey(key), json);
    // Same version twice: the second finds its own content there and succeeds.
    const auto first = ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted, out, SmallParts());
    const auto again = ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted, out, SmallParts());
    EXPECT_EQ(again.sha256_hex, first.sha256_hex);
    // Another writer's output (other content) is in place; the source is replaced while we read it.
    const auto newer = s3c.PutObject(kConverted, out, "<newer/>");
    std::atomic<uint64_t> read{0};
    PipelineHooks hooks;
    hooks.on_bytes_in = [&](uint64_t n) {
      if ((read += n) == json.size()) s3c.PutObject(kRaw, s3::ObjectKey(key), "[{\"v\":2}]");
    };
    try {
      ConvertObject(s3c, kRaw, s3::ObjectKey(key), "", kConverted, out, SmallParts(), hooks);
      ADD_FAILURE() << "a stale writer published over a newer output: " << size;
    } catch (const ConversionError& e) {
      EXPECT_EQ(e.reason(), FailureReason::kSourceChanged) << e.what();
    }
    EXPECT_EQ(s3c.HeadObject(kConverted, out).etag, newer.etag) << size;
    EXPECT_EQ(s3c.GetObject(kConverted, out), "<newer/>") << size;
  }
}

}  // namespace
}  // namespace rainbow::converter
