// common/s3 against a real MinIO (scripts/stack --test up minio; env from scripts/stack --test env).
// The suite creates its own bucket and removes it, with everything in it, at the end.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/sha256.hpp"
#include "common/s3/client.hpp"
#include "tests/support/loopback_socket.hpp"
#include "tests/support/reply_fault_proxy.hpp"
#include "tests/support/s3_stack_env.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::s3 {
namespace {

using testing::StackEnv;

constexpr uint64_t kMiB = 1ull << 20;

S3Config StackConfig() {
  S3Config config = rainbow::testing::S3ConfigFromStack();
  config.retry = {std::chrono::milliseconds(50), std::chrono::milliseconds(500), 2.0, 3};
  return config;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

// Runs fn, which must throw S3Error, and returns the error.
template <typename Fn>
S3Error CatchS3Error(Fn&& fn) {
  try {
    fn();
  } catch (const S3Error& e) {
    return e;
  }
  throw std::logic_error("expected an S3Error, nothing was thrown");
}

// A TCP proxy in front of the real MinIO that cuts its first `connections_to_cut` connections once
// `cut_after` response bytes went through: real dropped connections, to exercise retries and resumes.
class FlakyProxy {
 public:
  // The first `connections_to_cut` connections are closed once `cut_after` bytes went down to the
  // client (or, with `cut_uploads`, up to the server).
  FlakyProxy(const std::string& endpoint, size_t cut_after, int connections_to_cut, bool cut_uploads = false)
      : cut_after_(cut_after), to_cut_(connections_to_cut), cut_uploads_(cut_uploads) {
    const auto colon = endpoint.rfind(':');
    upstream_port_ = std::stoi(endpoint.substr(colon + 1));
    const auto listener = rainbow::testing::ListenOnLoopback();
    listener_ = listener.fd;
    port_ = listener.port;
    acceptor_ = std::jthread([this] { AcceptLoop(); });
  }
  ~FlakyProxy() {
    stop_ = true;
    acceptor_.join();
    pumps_.clear();  // joins
    ::close(listener_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  int cut() const { return cut_.load(); }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      const int upstream = rainbow::testing::ConnectToLoopback(upstream_port_);
      if (upstream < 0) {
        ::close(client);
        continue;
      }
      const bool cut = connections_++ < to_cut_;
      pumps_.emplace_back([this, client, upstream, cut] { Pump(client, upstream, cut); });
    }
  }

  void Pump(int client, int upstream, bool cut) {
    std::vector<char> buf(64 * 1024);
    size_t down = 0, up = 0;
    const bool cut_up = cut && cut_uploads_;
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    while (!stop_) {
      if (::poll(fds, 2, 50) <= 0) continue;
      if (fds[0].revents != 0) {
        const size_t want = cut_up ? std::min(buf.size(), cut_after_ - up) : buf.size();
        const ssize_t n = want == 0 ? 0 : ::read(client, buf.data(), want);
        if (n <= 0 || ::send(upstream, buf.data(), static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
        up += static_cast<size_t>(n);
      }
      if (fds[1].revents != 0) {
        const size_t want = cut ? std::min(buf.size(), cut_after_ - down) : buf.size();
        const ssize_t n = want == 0 ? 0 : ::read(upstream, buf.data(), want);
        if (n <= 0 || ::send(client, buf.data(), static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
        down += static_cast<size_t>(n);
      }
    }
    if (cut && (down >= cut_after_ || (cut_up && up >= cut_after_))) ++cut_;
    ::close(client);
    ::close(upstream);
  }

  const size_t cut_after_;
  const int to_cut_;
  const bool cut_uploads_;
  int upstream_port_ = 0;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> cut_{0};
  std::vector<std::jthread> pumps_;  // touched by the acceptor thread only, until the destructor
  std::jthread acceptor_;
};

class S3ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    client_ = new S3Client(StackConfig());
    bucket_ = new BucketName(testing::UniqueName("s3test"));
    client_->CreateBucket(*bucket_);
  }

  static void TearDownTestSuite() {
    if (client_ == nullptr) return;
    try {
      for (const auto& upload : client_->ListMultipartUploads(*bucket_, "")) {
        client_->AbortMultipartUpload(*bucket_, ObjectKey(upload.key), upload.upload_id);
      }
      ListOptions options;
      for (;;) {
        const ListPage page = client_->ListObjectsV2(*bucket_, options);
        for (const auto& o : page.objects) client_->DeleteObject(*bucket_, ObjectKey(o.key));
        if (!page.truncated) break;
        options.continuation_token = page.next_continuation_token;
      }
      client_->DeleteBucket(*bucket_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup of bucket " << bucket_->str() << " failed: " << e.what();
    }
    delete bucket_;
    delete client_;
    client_ = nullptr;
  }

  S3Client& client() { return *client_; }
  const BucketName& bucket() { return *bucket_; }

  static S3Client* client_;
  static BucketName* bucket_;
};

S3Client* S3ClientTest::client_ = nullptr;
BucketName* S3ClientTest::bucket_ = nullptr;

TEST_F(S3ClientTest, CreateBucketIsIdempotent) { EXPECT_NO_THROW(client().CreateBucket(bucket())); }

TEST_F(S3ClientTest, PutGetHeadDelete) {
  const ObjectKey key("basic/hello.txt");
  const std::string body = "hello, rainbow";
  PutOptions options;
  options.content_type = "text/plain";
  options.metadata = {{"source", "integration-test"}, {"Batch", "42"}};
  const PutResult put = client().PutObject(bucket(), key, body, options);
  EXPECT_FALSE(put.etag.empty());
  EXPECT_EQ(put.checksum_sha256, crypto::Sha256Base64(body));

  EXPECT_EQ(client().GetObject(bucket(), key), body);

  const ObjectInfo info = client().HeadObject(bucket(), key);
  EXPECT_EQ(info.size, body.size());
  EXPECT_EQ(info.etag, put.etag);
  EXPECT_EQ(info.content_type, "text/plain");
  EXPECT_EQ(info.checksum_sha256, crypto::Sha256Base64(body));
  EXPECT_EQ(info.metadata, (Metadata{{"source", "integration-test"}, {"batch", "42"}}));
  EXPECT_FALSE(info.last_modified.empty());

  client().DeleteObject(bucket(), key);
  EXPECT_EQ(CatchS3Error([&] { client().HeadObject(bucket(), key); }).s3_kind(), S3ErrorKind::kNotFound);
  EXPECT_NO_THROW(client().DeleteObject(bucket(), key));  // deleting a missing key succeeds
}

TEST_F(S3ClientTest, EmptyObjectRoundTrips) {
  const ObjectKey key("basic/empty");
  client().PutObject(bucket(), key, "");
  EXPECT_EQ(client().GetObject(bucket(), key), "");
  EXPECT_EQ(client().HeadObject(bucket(), key).size, 0u);
  client().DeleteObject(bucket(), key);
}

TEST_F(S3ClientTest, MissingKeyIsNotFound) {
  const ObjectKey key("missing/" + testing::UniqueName("nope"));
  const S3Error get = CatchS3Error([&] { client().GetObject(bucket(), key); });
  EXPECT_EQ(get.s3_kind(), S3ErrorKind::kNotFound);
  EXPECT_EQ(get.code(), "NoSuchKey");
  EXPECT_EQ(get.http_status(), 404);
  EXPECT_FALSE(get.request_id().empty());
  EXPECT_NE(std::string(get.what()).find("NoSuchKey (404)"), std::string::npos) << get.what();

  const S3Error head = CatchS3Error([&] { client().HeadObject(bucket(), key); });
  EXPECT_EQ(head.s3_kind(), S3ErrorKind::kNotFound);
  EXPECT_EQ(head.http_status(), 404);

  const S3Error no_bucket =
      CatchS3Error([&] { client().GetObject(BucketName(testing::UniqueName("nobucket")), ObjectKey("k")); });
  EXPECT_EQ(no_bucket.s3_kind(), S3ErrorKind::kNotFound);
  EXPECT_EQ(no_bucket.code(), "NoSuchBucket");
}

TEST_F(S3ClientTest, ListObjectsV2Paginates) {
  std::vector<std::string> keys;
  for (int i = 0; i < 25; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "list/item-%02d", i);
    keys.emplace_back(name);
    client().PutObject(bucket(), ObjectKey(name), std::string(static_cast<size_t>(i), 'x'));
  }
  client().PutObject(bucket(), ObjectKey("list-other/outside"), "not listed");

  std::vector<ListEntry> seen;
  std::vector<size_t> page_sizes;
  ListOptions options;
  options.prefix = "list/";
  options.max_keys = 10;
  for (;;) {
    const ListPage page = client().ListObjectsV2(bucket(), options);
    page_sizes.push_back(page.objects.size());
    seen.insert(seen.end(), page.objects.begin(), page.objects.end());
    if (!page.truncated) {
      EXPECT_TRUE(page.next_continuation_token.empty());
      break;
    }
    ASSERT_FALSE(page.next_continuation_token.empty());
    options.continuation_token = page.next_continuation_token;
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{10, 10, 5}));
  ASSERT_EQ(seen.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(seen[i].key, keys[i]);
    EXPECT_EQ(seen[i].size, i);
    EXPECT_FALSE(seen[i].etag.empty());
    EXPECT_EQ(seen[i].etag.find('"'), std::string::npos);
  }

  ListOptions grouped;
  grouped.delimiter = "/";
  grouped.prefix = "list";
  const ListPage top = client().ListObjectsV2(bucket(), grouped);
  EXPECT_EQ(top.common_prefixes, (std::vector<std::string>{"list-other/", "list/"}));
}

TEST_F(S3ClientTest, RangedGetReturnsTheExactSlice) {
  const ObjectKey key("range/data.bin");
  const std::string data = RandomBytes(100'000, 7);
  client().PutObject(bucket(), key, data);

  EXPECT_EQ(client().GetObject(bucket(), key, ByteRange{1000, 1999}), data.substr(1000, 1000));
  EXPECT_EQ(client().GetObject(bucket(), key, ByteRange{0, 0}), data.substr(0, 1));
  EXPECT_EQ(client().GetObject(bucket(), key, ByteRange{99'990, 99'999}), data.substr(99'990));

  std::string streamed;
  const ObjectInfo info = client().GetObjectStreaming(
      bucket(), key, [&](std::string_view chunk) { streamed.append(chunk); }, ByteRange{12'345, 67'890});
  EXPECT_EQ(streamed, data.substr(12'345, 67'890 - 12'345 + 1));
  EXPECT_EQ(info.size, data.size());  // the whole object's size, from Content-Range

  const S3Error past_end = CatchS3Error([&] {
    client().GetObject(bucket(), key, ByteRange{200'000, 200'010});
  });
  EXPECT_EQ(past_end.s3_kind(), S3ErrorKind::kInvalidArgument);
  EXPECT_EQ(past_end.code(), "InvalidRange");
}

TEST_F(S3ClientTest, StreamingGetDeliversEverythingInOrder) {
  const ObjectKey key("stream/data.bin");
  const std::string data = RandomBytes(3 * kMiB + 17, 11);
  client().PutObject(bucket(), key, data);
  std::string streamed;
  size_t chunks = 0;
  client().GetObjectStreaming(bucket(), key, [&](std::string_view chunk) {
    streamed.append(chunk);
    ++chunks;
  });
  EXPECT_EQ(streamed, data);
  EXPECT_GT(chunks, 1u);
}

TEST_F(S3ClientTest, SinkExceptionReachesTheCallerUnchanged) {
  const ObjectKey key("stream/abort.bin");
  client().PutObject(bucket(), key, RandomBytes(kMiB, 3));
  struct Stop : std::runtime_error {
    Stop() : std::runtime_error("consumer gave up") {}
  };
  int calls = 0;
  EXPECT_THROW(client().GetObjectStreaming(bucket(), key,
                                           [&](std::string_view) {
                                             ++calls;
                                             throw Stop();
                                           }),
               Stop);
  EXPECT_EQ(calls, 1);  // not retried
}

TEST_F(S3ClientTest, ServerVerifiesTheSha256Checksum) {
  const ObjectKey bad_key("checksum/wrong.bin");
  const std::string body = "payload whose checksum we lie about";
  PutOptions wrong;
  wrong.checksum_sha256 = crypto::Sha256Base64("something else");
  const S3Error err = CatchS3Error([&] { client().PutObject(bucket(), bad_key, body, wrong); });
  EXPECT_EQ(err.s3_kind(), S3ErrorKind::kChecksumMismatch);
  EXPECT_EQ(err.code(), "XAmzContentChecksumMismatch");  // MinIO's code (AWS says BadDigest)
  EXPECT_EQ(err.http_status(), 400);
  EXPECT_EQ(CatchS3Error([&] { client().HeadObject(bucket(), bad_key); }).s3_kind(), S3ErrorKind::kNotFound);

  const ObjectKey good_key("checksum/right.bin");
  PutOptions right;
  right.checksum_sha256 = crypto::Sha256Base64(body);  // e.g. computed where the file was produced
  const PutResult put = client().PutObject(bucket(), good_key, body, right);
  EXPECT_EQ(put.checksum_sha256, right.checksum_sha256);
  EXPECT_EQ(client().HeadObject(bucket(), good_key).checksum_sha256, right.checksum_sha256);
}

TEST_F(S3ClientTest, WrongCredentialsNameTheProblem) {
  S3Config bad_key = StackConfig();
  bad_key.access_key = "no-such-access-key";
  S3Client wrong_key_client(bad_key);
  const S3Error e1 = CatchS3Error([&] { wrong_key_client.PutObject(bucket(), ObjectKey("raw/x"), "data"); });
  EXPECT_EQ(e1.s3_kind(), S3ErrorKind::kInvalidCredentials);
  EXPECT_EQ(e1.code(), "InvalidAccessKeyId");
  EXPECT_EQ(e1.http_status(), 403);
  const std::string what1 = e1.what();
  EXPECT_NE(what1.find("S3 PUT " + bucket().str() + "/raw/x: InvalidAccessKeyId (403): The Access Key Id"),
            std::string::npos)
      << what1;

  S3Config bad_secret = StackConfig();
  bad_secret.secret_key = "definitely-not-the-secret";
  S3Client wrong_secret_client(bad_secret);
  const S3Error e2 = CatchS3Error([&] { wrong_secret_client.GetObject(bucket(), ObjectKey("raw/x")); });
  EXPECT_EQ(e2.s3_kind(), S3ErrorKind::kInvalidCredentials);
  EXPECT_EQ(e2.code(), "SignatureDoesNotMatch");
  EXPECT_NE(std::string(e2.what()).find("SignatureDoesNotMatch (403)"), std::string::npos) << e2.what();
}

TEST_F(S3ClientTest, UnreachableEndpointIsRetryableTransportError) {
  S3Config config = StackConfig();
  config.endpoint = "http://127.0.0.1:1";
  config.retry.max_attempts = 2;
  S3Client nowhere(config);
  const S3Error e = CatchS3Error([&] { nowhere.HeadObject(bucket(), ObjectKey("k")); });
  EXPECT_EQ(e.s3_kind(), S3ErrorKind::kRetryable);
  EXPECT_EQ(e.code(), "CURLE_COULDNT_CONNECT");
  EXPECT_EQ(e.http_status(), 0);
}

// curl 7.88 mis-sorts x-amz-meta-a / x-amz-meta-a-b when signing; the client signs such requests itself.
TEST_F(S3ClientTest, MetadataNamesSharingAPrefixRoundTrip) {
  const ObjectKey key("meta/prefixes.txt");
  PutOptions options;
  options.metadata = {{"a", "1"}, {"a-b", "2"}, {"a1", "3"}, {"ab", "4"}, {"empty", ""}};
  client().PutObject(bucket(), key, "m", options);
  const ObjectInfo info = client().HeadObject(bucket(), key);
  EXPECT_EQ(info.metadata.at("a"), "1");
  EXPECT_EQ(info.metadata.at("a-b"), "2");
  EXPECT_EQ(info.metadata.at("a1"), "3");
  EXPECT_EQ(info.metadata.at("ab"), "4");
  EXPECT_EQ(info.metadata.count("empty"), 1u) << "empty metadata value dropped";

  const std::string upload_id = client().CreateMultipartUpload(bucket(), key, options);
  client().AbortMultipartUpload(bucket(), key, upload_id);
}

TEST_F(S3ClientTest, UnusualKeysRoundTrip) {
  const std::vector<std::string> keys = {
      "keys/with space.txt",
      "keys/unicode-\xc3\xa9\xe4\xb8\xad\xe6\x96\x87-\xf0\x9f\x9a\x80.bin",  // é中文🚀
      "keys/plus+sign",
      "keys/equals=sign&amp",
      "keys/deep/nested/path/file",
      "keys/tilde~star*paren(1)!'",
      "keys/percent%20literal",
      "keys/question?hash#",
      "keys/semi;colon:comma,at@dollar$",
  };
  for (const auto& k : keys) {
    SCOPED_TRACE(k);
    client().PutObject(bucket(), ObjectKey(k), "body of " + k);
    EXPECT_EQ(client().GetObject(bucket(), ObjectKey(k)), "body of " + k);
    EXPECT_EQ(client().HeadObject(bucket(), ObjectKey(k)).size, ("body of " + k).size());
  }
  ListOptions options;
  options.prefix = "keys/";
  const ListPage page = client().ListObjectsV2(bucket(), options);
  std::set<std::string> listed;
  for (const auto& o : page.objects) listed.insert(o.key);
  EXPECT_EQ(listed, std::set<std::string>(keys.begin(), keys.end()));

  ListOptions plus;
  plus.prefix = "keys/plus+";
  const ListPage plus_page = client().ListObjectsV2(bucket(), plus);
  ASSERT_EQ(plus_page.objects.size(), 1u);
  EXPECT_EQ(plus_page.objects[0].key, "keys/plus+sign");

  for (const auto& k : keys) client().DeleteObject(bucket(), ObjectKey(k));
  EXPECT_TRUE(client().ListObjectsV2(bucket(), options).objects.empty());
}

TEST_F(S3ClientTest, ParallelMultipartUpload64MiB) {
  const ObjectKey key("multipart/64mib.bin");
  const uint64_t part_size = 8 * kMiB;
  const std::string data = RandomBytes(64 * kMiB, 2024);

  std::vector<UploadedPart> expected_parts;
  for (uint64_t off = 0, n = 1; off < data.size(); off += part_size, ++n) {
    expected_parts.push_back(
        {static_cast<int>(n), "", crypto::Sha256Base64(std::string_view(data).substr(off, part_size))});
  }
  const std::string composite = CompositeChecksum(expected_parts);
  ASSERT_TRUE(composite.ends_with("-8"));

  MultipartOptions options;
  options.part_size = part_size;
  options.concurrency = 4;
  options.content_type = "application/x-rainbow-test";
  options.metadata = {{"origin", "multipart-test"}, {"parts", "8"}};
  const PutResult put = client().UploadMultipart(bucket(), key, MemorySource(data), options);
  EXPECT_TRUE(put.etag.ends_with("-8")) << put.etag;
  EXPECT_EQ(put.checksum_sha256, composite);

  const ObjectInfo info = client().HeadObject(bucket(), key);
  EXPECT_EQ(info.size, data.size());
  EXPECT_EQ(info.etag, put.etag);
  EXPECT_EQ(info.content_type, "application/x-rainbow-test");
  EXPECT_EQ(info.metadata, (Metadata{{"origin", "multipart-test"}, {"parts", "8"}}));
  EXPECT_EQ(info.checksum_sha256, composite);

  const std::string want = crypto::Sha256Hex(data);
  EXPECT_EQ(crypto::Sha256Hex(client().GetObject(bucket(), key)), want);

  crypto::Sha256 streamed;
  client().GetObjectStreaming(bucket(), key, [&](std::string_view c) { streamed.Update(c); });
  EXPECT_EQ(crypto::Hex(streamed.Final()), want);

  crypto::Sha256 parallel;
  uint64_t delivered = 0;
  std::vector<size_t> chunk_sizes;
  const std::thread::id caller = std::this_thread::get_id();
  const ObjectInfo dl = client().DownloadParallel(bucket(), key, 5 * kMiB, 4, [&](std::string_view c) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(c, std::string_view(data).substr(delivered, c.size()));  // in order
    delivered += c.size();
    chunk_sizes.push_back(c.size());
    parallel.Update(c);
  });
  EXPECT_EQ(crypto::Hex(parallel.Final()), want);
  EXPECT_EQ(dl.size, data.size());
  EXPECT_EQ(chunk_sizes.size(), 13u);  // 12 x 5 MiB + 4 MiB

  EXPECT_EQ(client().GetObject(bucket(), key, ByteRange{part_size - 10, part_size + 9}),
            data.substr(part_size - 10, 20));
}

TEST_F(S3ClientTest, SmallUploadMultipartFallsBackToOnePut) {
  const ObjectKey key("multipart/small.bin");
  const std::string data = RandomBytes(kMiB, 5);
  MultipartOptions options;
  options.part_size = 5 * kMiB;
  const PutResult put = client().UploadMultipart(bucket(), key, MemorySource(data), options);
  EXPECT_EQ(put.checksum_sha256, crypto::Sha256Base64(data));
  EXPECT_EQ(client().GetObject(bucket(), key), data);
}

TEST_F(S3ClientTest, AbortedMultipartUploadLeavesNoObject) {
  const ObjectKey key("multipart/aborted.bin");
  const std::string upload_id = client().CreateMultipartUpload(bucket(), key);
  const std::string part_data = RandomBytes(5 * kMiB, 9);
  const UploadedPart part = client().UploadPart(bucket(), key, upload_id, 1, part_data);
  EXPECT_EQ(part.checksum_sha256, crypto::Sha256Base64(part_data));
  EXPECT_FALSE(part.etag.empty());
  auto uploads = client().ListMultipartUploads(bucket(), key.str());
  EXPECT_TRUE(
      std::any_of(uploads.begin(), uploads.end(), [&](const auto& u) { return u.upload_id == upload_id; }));

  client().AbortMultipartUpload(bucket(), key, upload_id);
  EXPECT_EQ(CatchS3Error([&] { client().HeadObject(bucket(), key); }).s3_kind(), S3ErrorKind::kNotFound);
  EXPECT_TRUE(client().ListMultipartUploads(bucket(), key.str()).empty());
  const S3Error gone = CatchS3Error([&] { client().UploadPart(bucket(), key, upload_id, 2, part_data); });
  EXPECT_EQ(gone.s3_kind(), S3ErrorKind::kNotFound);
  EXPECT_EQ(gone.code(), "NoSuchUpload");
}

// CompleteMultipartUpload's reply lost (MinIO wrote the object, the connection is cut as it starts
// answering): the retry finds the upload gone (NoSuchUpload), recognises the object at the key as its
// own by its composite checksum, and returns it instead of failing.
TEST_F(S3ClientTest, CompleteMultipartUploadWhoseReplyIsLostFindsItsObject) {
  const std::string endpoint = client().config().endpoint;
  rainbow::testing::ReplyFaultProxy proxy(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  S3Config config = StackConfig();
  config.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port());
  S3Client via(config);
  const ObjectKey key("multipart/lost-complete-reply.bin");
  const std::string upload_id = via.CreateMultipartUpload(bucket(), key);
  const std::string first = RandomBytes(5 * kMiB, 21), second = RandomBytes(1000, 22);
  std::vector<UploadedPart> parts = {via.UploadPart(bucket(), key, upload_id, 1, first),
                                     via.UploadPart(bucket(), key, upload_id, 2, second)};
  proxy.ArmCut("<CompleteMultipartUpload");
  const PutResult put = via.CompleteMultipartUpload(bucket(), key, upload_id, parts);
  EXPECT_EQ(proxy.faults(), 1) << "the reply was not cut";
  EXPECT_EQ(put.checksum_sha256, CompositeChecksum(parts));
  EXPECT_EQ(client().GetObject(bucket(), key), first + second);
}

TEST_F(S3ClientTest, FailedParallelUploadIsAbortedAndRethrown) {
  const ObjectKey key("multipart/failed.bin");
  const std::string data = RandomBytes(30 * kMiB, 13);
  // A source that breaks after 17 MiB: three parts are in flight or done when it fails.
  DataSource inner = MemorySource(data);
  size_t served = 0;
  DataSource breaking = [&](char* out, size_t max) -> size_t {
    if (served >= 17 * kMiB) throw std::runtime_error("source broke");
    const size_t n = inner(out, std::min<size_t>(max, 17 * kMiB - served + 1));
    served += n;
    return n;
  };
  MultipartOptions options;
  options.part_size = 5 * kMiB;
  options.concurrency = 3;
  try {
    client().UploadMultipart(bucket(), key, breaking, options);
    ADD_FAILURE() << "UploadMultipart should have thrown";
  } catch (const S3Error& e) {
    ADD_FAILURE() << "expected the source's error, got " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "source broke");
  }
  EXPECT_EQ(CatchS3Error([&] { client().HeadObject(bucket(), key); }).s3_kind(), S3ErrorKind::kNotFound);
  EXPECT_TRUE(client().ListMultipartUploads(bucket(), key.str()).empty());
}

TEST_F(S3ClientTest, StreamingGetResumesAfterADroppedConnection) {
  const ObjectKey key("flaky/stream.bin");
  const std::string data = RandomBytes(4 * kMiB, 17);
  client().PutObject(bucket(), key, data);

  FlakyProxy proxy(client().config().endpoint, 1 * kMiB, 2);  // two connections die after ~1 MiB
  S3Config config = StackConfig();
  config.endpoint = proxy.endpoint();
  S3Client flaky(config);
  std::string streamed;
  flaky.GetObjectStreaming(bucket(), key, [&](std::string_view c) { streamed.append(c); });
  EXPECT_EQ(proxy.cut(), 2);
  EXPECT_GE(proxy.connections(), 3);
  EXPECT_EQ(streamed.size(), data.size());
  EXPECT_TRUE(streamed == data) << "resumed stream differs (bytes duplicated or lost)";
}

TEST_F(S3ClientTest, RequestsAreRetriedAfterADroppedConnection) {
  FlakyProxy proxy(client().config().endpoint, 0, 1);  // the first connection dies before any reply
  S3Config config = StackConfig();
  config.endpoint = proxy.endpoint();
  S3Client flaky(config);
  const ObjectKey key("flaky/put.bin");
  const std::string data = RandomBytes(6 * kMiB, 19);
  flaky.PutObject(bucket(), key, data);
  EXPECT_EQ(proxy.cut(), 1);
  EXPECT_EQ(crypto::Sha256Hex(flaky.GetObject(bucket(), key)), crypto::Sha256Hex(data));
}

TEST_F(S3ClientTest, ParallelTransfersSurviveDroppedConnections) {
  // One proxy per direction. (With one proxy cutting only replies, whether the download met the cut
  // connections depended on which ones libcurl had kept from the upload: 2 or 3 cuts.)
  const ObjectKey key("flaky/multipart.bin");
  const std::string data = RandomBytes(16 * kMiB, 23);
  {
    // Cut after 64 KiB sent: a part dies mid-body. Which connections carry parts is libcurl's choice
    // (the first one also carries the small CreateMultipartUpload), so at least one of the three is cut.
    FlakyProxy proxy(client().config().endpoint, 64 * 1024, 3, /*cut_uploads=*/true);
    S3Config config = StackConfig();
    config.endpoint = proxy.endpoint();
    S3Client flaky(config);
    MultipartOptions options;
    options.part_size = 5 * kMiB;
    options.concurrency = 3;
    flaky.UploadMultipart(bucket(), key, MemorySource(data), options);
    EXPECT_GE(proxy.cut(), 1);
  }
  EXPECT_EQ(crypto::Sha256Hex(client().GetObject(bucket(), key)), crypto::Sha256Hex(data));
  {
    // A fresh client: its first three connections are the three ranged GETs, each cut after 4 KiB.
    FlakyProxy proxy(client().config().endpoint, 4096, 3);
    S3Config config = StackConfig();
    config.endpoint = proxy.endpoint();
    S3Client flaky(config);
    std::string downloaded;
    flaky.DownloadParallel(bucket(), key, 5 * kMiB, 3, [&](std::string_view c) { downloaded.append(c); });
    EXPECT_EQ(proxy.cut(), 3);
    EXPECT_TRUE(downloaded == data);
  }
}

TEST_F(S3ClientTest, ClientIsSharedAcrossThreads) {
  std::vector<std::jthread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const ObjectKey key("threads/" + std::to_string(t) + "-" + std::to_string(i));
        const std::string body =
            RandomBytes(1000 + static_cast<size_t>(t * 100 + i), static_cast<uint64_t>(t));
        client().PutObject(bucket(), key, body);
        if (client().GetObject(bucket(), key) == body) ++ok;
        client().DeleteObject(bucket(), key);
      }
    });
  }
  threads.clear();
  EXPECT_EQ(ok.load(), 30);
}

}  // namespace
}  // namespace rainbow::s3
