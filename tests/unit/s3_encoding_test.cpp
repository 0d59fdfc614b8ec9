// Pure logic of common/s3: percent-encoding, query ordering, header canonicalisation, the fallback signer
// (against AWS's published example) and error classification.
#include <gtest/gtest.h>

#include <chrono>

#include "common/s3/client.hpp"
#include "common/s3/sigv4_request.hpp"
#include "common/s3/types.hpp"

namespace rainbow::s3 {
namespace {

TEST(S3UriEncode, KeepsUnreservedAndEncodesTheRestUppercase) {
  EXPECT_EQ(sigv4::UriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(sigv4::UriEncode("a b+c=d&e", false), "a%20b%2Bc%3Dd%26e");
  EXPECT_EQ(sigv4::UriEncode("*!'()$,;:@?#[]%", false), "%2A%21%27%28%29%24%2C%3B%3A%40%3F%23%5B%5D%25");
  EXPECT_EQ(sigv4::UriEncode("\xc3\xa9", false), "%C3%A9");  // é as its UTF-8 bytes
  EXPECT_EQ(sigv4::UriEncode("dir/sub/x", false), "dir%2Fsub%2Fx");
  EXPECT_EQ(sigv4::UriEncode("dir/sub/x", true), "dir/sub/x");
}

TEST(S3UriEncode, CanonicalPathKeepsSlashesInKeysOnly) {
  EXPECT_EQ(sigv4::CanonicalPath("bucket", ""), "/bucket");
  EXPECT_EQ(sigv4::CanonicalPath("bucket", "raw/2024/a b+c=d\xc3\xa9.json"),
            "/bucket/raw/2024/a%20b%2Bc%3Dd%C3%A9.json");
  EXPECT_EQ(sigv4::CanonicalPath("bucket", "/leading//double/"), "/bucket//leading//double/");
}

TEST(S3CanonicalQuery, SortsByEncodedNameAndGivesFlagsAnEqualsSign) {
  EXPECT_EQ(sigv4::CanonicalQuery({}), "");
  EXPECT_EQ(sigv4::CanonicalQuery({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(sigv4::CanonicalQuery({{"uploadId", "a/b+c="}, {"partNumber", "3"}}),
            "partNumber=3&uploadId=a%2Fb%2Bc%3D");
  EXPECT_EQ(
      sigv4::CanonicalQuery(
          {{"prefix", "raw/x y"}, {"max-keys", "10"}, {"list-type", "2"}, {"continuation-token", "1/ab=="}}),
      "continuation-token=1%2Fab%3D%3D&list-type=2&max-keys=10&prefix=raw%2Fx%20y");
  // Byte order: upper case sorts before lower case; equal names sort by value.
  EXPECT_EQ(sigv4::CanonicalQuery({{"b", "2"}, {"a", "2"}, {"B", "1"}, {"a", "1"}}), "B=1&a=1&a=2&b=2");
}

TEST(S3Headers, TrimValueCollapsesBlanks) {
  EXPECT_EQ(sigv4::TrimValue("  a   b \t c  "), "a b c");
  EXPECT_EQ(sigv4::TrimValue(""), "");
  EXPECT_EQ(sigv4::TrimValue("   "), "");
}

TEST(S3Headers, DetectsCurl788PrefixMisSort) {
  const sigv4::Headers base = {{"host", "h"},
                               {"x-amz-date", "t"},
                               {"x-amz-content-sha256", "x"},
                               {"x-amz-checksum-sha256", "y"},
                               {"content-type", "text/plain"}};
  EXPECT_FALSE(sigv4::CurlMisSortsHeaders(base));

  auto prefix_dash = base;
  prefix_dash.emplace_back("x-amz-meta-a", "1");
  prefix_dash.emplace_back("x-amz-meta-a-b", "2");
  EXPECT_TRUE(sigv4::CurlMisSortsHeaders(prefix_dash));

  auto prefix_digit = base;
  prefix_digit.emplace_back("x-amz-meta-a", "1");
  prefix_digit.emplace_back("x-amz-meta-a1", "2");
  EXPECT_TRUE(sigv4::CurlMisSortsHeaders(prefix_digit));

  auto prefix_letter = base;  // ':' < 'b', so strcmp happens to agree
  prefix_letter.emplace_back("x-amz-meta-a", "1");
  prefix_letter.emplace_back("x-amz-meta-ab", "2");
  EXPECT_FALSE(sigv4::CurlMisSortsHeaders(prefix_letter));
}

// AWS's worked example "GET Object" (Signature Version 4, S3 API reference).
sigv4::SigningInput AwsGetObjectExample() {
  return sigv4::SigningInput{
      .method = "GET",
      .canonical_uri = "/test.txt",
      .canonical_query = "",
      .headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                  {"Range", "bytes=0-9"},
                  {"x-amz-content-sha256",
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
                  {"x-amz-date", "20130524T000000Z"}},
      .payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      .region = "us-east-1",
      .service = "s3",
      .timestamp = "20130524T000000Z",
      .access_key = "AKIAIOSFODNN7EXAMPLE",
      .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  };
}

TEST(S3Signer, MatchesAwsGetObjectExample) {
  const auto in = AwsGetObjectExample();
  EXPECT_EQ(sigv4::CanonicalRequest(in),
            "GET\n/test.txt\n\n"
            "host:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sigv4::StringToSign(in),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sigv4::Authorization(in),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3Signer, SortsPrefixSharingHeadersByName) {
  auto in = AwsGetObjectExample();
  in.headers.emplace_back("x-amz-meta-a-b", "2");
  in.headers.emplace_back("x-amz-meta-a", "1");
  const std::string canonical = sigv4::CanonicalRequest(in);
  EXPECT_LT(canonical.find("x-amz-meta-a:1\n"), canonical.find("x-amz-meta-a-b:2\n"));
  EXPECT_NE(canonical.find("\nhost;range;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-meta-a-b\n"),
            std::string::npos);
}

TEST(S3Signer, AmzTimestampIsUtc) {
  const auto t = std::chrono::sys_days{std::chrono::year{2013} / 5 / 24} + std::chrono::hours{13} +
                 std::chrono::minutes{5} + std::chrono::seconds{9};
  EXPECT_EQ(sigv4::AmzTimestamp(t), "20130524T130509Z");
}

TEST(S3Errors, ClassifiesCodesAndStatuses) {
  EXPECT_EQ(ClassifyS3Error(404, "NoSuchKey"), S3ErrorKind::kNotFound);
  EXPECT_EQ(ClassifyS3Error(404, "NoSuchBucket"), S3ErrorKind::kNotFound);
  EXPECT_EQ(ClassifyS3Error(404, "NotFound"), S3ErrorKind::kNotFound);
  EXPECT_EQ(ClassifyS3Error(403, "InvalidAccessKeyId"), S3ErrorKind::kInvalidCredentials);
  EXPECT_EQ(ClassifyS3Error(403, "SignatureDoesNotMatch"), S3ErrorKind::kInvalidCredentials);
  EXPECT_EQ(ClassifyS3Error(403, "AccessDenied"), S3ErrorKind::kAccessDenied);
  EXPECT_EQ(ClassifyS3Error(400, "XAmzContentChecksumMismatch"), S3ErrorKind::kChecksumMismatch);
  EXPECT_EQ(ClassifyS3Error(400, "XAmzContentSHA256Mismatch"), S3ErrorKind::kChecksumMismatch);
  EXPECT_EQ(ClassifyS3Error(400, "BadDigest"), S3ErrorKind::kChecksumMismatch);
  EXPECT_EQ(ClassifyS3Error(503, "SlowDown"), S3ErrorKind::kRetryable);
  EXPECT_EQ(ClassifyS3Error(500, "InternalError"), S3ErrorKind::kRetryable);
  EXPECT_EQ(ClassifyS3Error(400, "RequestTimeout"), S3ErrorKind::kRetryable);
  EXPECT_EQ(ClassifyS3Error(200, "InternalError"), S3ErrorKind::kRetryable);  // Complete's 200 + <Error>
  EXPECT_EQ(ClassifyS3Error(400, "EntityTooSmall"), S3ErrorKind::kInvalidArgument);
  EXPECT_EQ(ClassifyS3Error(416, "InvalidRange"), S3ErrorKind::kInvalidArgument);
  EXPECT_EQ(ClassifyS3Error(409, "BucketNotEmpty"), S3ErrorKind::kPermanent);
  EXPECT_EQ(ClassifyS3Error(412, "PreconditionFailed"), S3ErrorKind::kPermanent);
}

TEST(S3Errors, MessageNamesOperationCodeStatusAndRequestId) {
  const S3Error e({S3ErrorKind::kInvalidCredentials, 403, "InvalidAccessKeyId",
                   "The Access Key Id you provided does not exist in our records.", "18EA", "PUT raw/x"});
  EXPECT_STREQ(e.what(),
               "S3 PUT raw/x: InvalidAccessKeyId (403): The Access Key Id you provided does not exist in our "
               "records. [request 18EA]");
  EXPECT_FALSE(e.retryable());
}

TEST(S3Types, ValidatesBucketNamesAndKeys) {
  EXPECT_NO_THROW(BucketName("raw-files.2024"));
  EXPECT_THROW(BucketName("ab"), std::invalid_argument);
  EXPECT_THROW(BucketName("Upper"), std::invalid_argument);
  EXPECT_THROW(BucketName("-dash"), std::invalid_argument);
  EXPECT_THROW(BucketName("a/b"), std::invalid_argument);
  EXPECT_NO_THROW(ObjectKey("a b/\xc3\xa9+="));
  EXPECT_THROW(ObjectKey(""), std::invalid_argument);
  EXPECT_THROW(ObjectKey(std::string(1025, 'k')), std::invalid_argument);
}

TEST(S3Multipart, CompositeChecksumIsChecksumOfPartDigests) {
  // SHA-256("a") and SHA-256("b") as base64; composite = base64(SHA-256(raw_a || raw_b)) + "-2".
  const std::vector<UploadedPart> parts = {{1, "e1", "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="},
                                           {2, "e2", "PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0="}};
  EXPECT_EQ(CompositeChecksum(parts), "5aAf7hTg7VxIcU8iGA8lrYNltT+XefedxKPX6Tlj+Uo=-2");
}

TEST(S3Sources, MemorySourceYieldsAllBytesThenZero) {
  const std::string data = "0123456789";
  DataSource src = MemorySource(data);
  char buf[4];
  std::string got;
  for (size_t n; (n = src(buf, sizeof(buf))) > 0;) got.append(buf, n);
  EXPECT_EQ(got, data);
  EXPECT_EQ(src(buf, sizeof(buf)), 0u);
}

}  // namespace
}  // namespace rainbow::s3
