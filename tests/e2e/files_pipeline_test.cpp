// Flow B end to end with the real binaries (state-tracker, s3-converter) against MinIO, Redis and
// Kafka: upload -> bucket notification -> tracker -> converter -> XML in `converted` -> COMPLETED;
// a converter killed -9 mid-file; corrupt JSON; two trackers and two converters over 500 files; and
// a 1 GB file converted with bounded memory.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/crypto/sha256.hpp"
#include "rainbow/s3_converter.grpc.pb.h"
#include "services/s3-converter/src/s3_pipeline.hpp"
#include "tests/support/files_stack.hpp"
#include "tests/support/private_server.hpp"
#include "tests/support/reply_fault_proxy.hpp"
#include "tests/support/s3_fault_proxy.hpp"

namespace rainbow {
namespace {

using namespace files_test;
using testing::UniqueName;

const s3::BucketName kRaw("raw");
const s3::BucketName kConverted("converted");
const std::string kTestDir = RAINBOW_CONVERTER_TEST_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, std::string> TrackerEnv(const std::string& redis_prefix, const std::string& accept,
                                              const std::string& group) {
  auto env = SharedEnv();
  env["STATE_REDIS_PREFIX"] = redis_prefix;
  env["STATE_ACCEPT_PREFIX"] = accept;
  env["STATE_CONSUMER_GROUP"] = group;
  env["STATE_SWEEP_INTERVAL"] = "250ms";
  env["STATE_RETRY_DELAY"] = "200ms";
  return env;
}

std::map<std::string, std::string> ConverterEnv(const std::string& tracker_addr, const std::string& worker_id,
                                                int workers = 2) {
  auto env = SharedEnv();
  env["CONVERTER_STATE_GRPC"] = tracker_addr;
  env["CONVERTER_WORKER_ID"] = worker_id;
  env["CONVERTER_WORKERS"] = std::to_string(workers);
  env["CONVERTER_LEASE"] = "3s";
  env["CONVERTER_HEARTBEAT"] = "1s";
  env["CONVERTER_POLL_INTERVAL"] = "1s";
  env["CONVERTER_PART_SIZE"] = std::to_string(5 << 20);
  return env;
}

// A DataSource generating about `bytes` of a JSON array of product objects without holding it in
// memory; also hashes what it produced.
struct GeneratedProducts {
  explicit GeneratedProducts(uint64_t bytes) : target(bytes) {}
  size_t Read(char* out, size_t max) {
    while (pos == buf.size()) {
      if (done) return 0;
      buf.clear();
      pos = 0;
      if (records == 0) buf += "[\n";
      while (buf.size() < (256u << 10) && produced + buf.size() < target) {
        if (records) buf += ",\n";
        buf +=
            R"({"ean":")" + std::to_string(5713447649590 + records) + R"(","styleNumber":")" +
            std::to_string(16050217 + records % 1000) +
            R"(","size":"M","countryOfOrigin":[{"language":"English","value":"BD"}],"itemSellingPrices":[{"priceType":"EDI Retail Price","priceCurrency":"Euro","price":39.99,"validInRegion":"Austria"}],"styleLifeCycle":{"createdOn":"2018-09-13T20:34:00.000Z","articleStatus":"created"},"color":"Black & <White>","brandName":"Metro Mode"})";
        ++records;
      }
      if (produced + buf.size() >= target) {
        buf += "\n]\n";
        done = true;
      }
      produced += buf.size();
      sha.Update(buf);
    }
    const size_t n = std::min(max, buf.size() - pos);
    std::memcpy(out, buf.data() + pos, n);
    pos += n;
    return n;
  }
  uint64_t target;
  uint64_t produced = 0;
  uint64_t records = 0;
  std::string buf;
  size_t pos = 0;
  bool done = false;
  crypto::Sha256 sha;
};

// SHA-256 hex of an object, streamed.
std::string ObjectSha256(s3::S3Client& s3c, const s3::BucketName& b, const std::string& key,
                         uint64_t* size = nullptr) {
  crypto::Sha256 h;
  uint64_t n = 0;
  s3c.GetObjectStreaming(b, s3::ObjectKey(key), [&](std::string_view c) {
    h.Update(c);
    n += c.size();
  });
  if (size) *size = n;
  return crypto::Hex(h.Final());
}

size_t CountState(const std::vector<nlohmann::json>& events, const std::string& key,
                  const std::string& state) {
  size_t n = 0;
  for (const auto& e : events) n += e["key"] == key && e["state"] == state;
  return n;
}

TEST(FilesPipeline, UploadBecomesVerifiedXmlAndCompleted) {
  const std::string dir = UniqueName("e2e");
  StateEvents events(dir + "/");
  Service tracker(RAINBOW_TRACKER_BIN,
                  TrackerEnv(UniqueName("e2e:{files}") + ":", "raw/" + dir + "/", UniqueName("tracker")));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  // A poll interval longer than the wait below: the converter must be woken by the file's PENDING
  // event on files.state, not find the file by polling.
  auto converter_env = ConverterEnv(tracker.grpc_addr(), UniqueName("conv"));
  converter_env["CONVERTER_POLL_INTERVAL"] = "300s";
  Service converter(RAINBOW_CONVERTER_BIN, converter_env);
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  // Ready: gRPC health says so too, for the server and for each service by name (registered under
  // its name; that it turns NOT_SERVING with readiness is state-tracker's and the probe's test).
  EXPECT_EQ(tracker.WaitGrpcHealth(""), "SERVING");
  EXPECT_EQ(tracker.WaitGrpcHealth("rainbow.files.v1.FileStateService"), "SERVING");
  EXPECT_EQ(converter.WaitGrpcHealth("rainbow.converter.v1.ConverterService"), "SERVING");
  auto stub = TrackerStub(tracker.grpc_addr());
  s3::S3Client s3c(S3FromEnv());

  const std::string key = dir + "/seed products.json";
  const std::string json = ReadFile(std::string(RAINBOW_SEED_DIR) + "/sample_products.json");
  s3::PutOptions put;
  put.metadata["sha256"] = crypto::Sha256Hex(json);  // the source's checksum, verified by the converter
  const auto etag = s3c.PutObject(kRaw, s3::ObjectKey(key), json, put).etag;

  const auto rec = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 90s);
  ASSERT_TRUE(rec && rec->state() == files::v1::COMPLETED)
      << (rec ? rec->DebugString() : "no record") << tracker.Logs() << converter.Logs();
  EXPECT_EQ(rec->file().etag(), etag);
  EXPECT_EQ(rec->output_key(), dir + "/seed products.xml");
  const std::string xml = s3c.GetObject(kConverted, s3::ObjectKey(rec->output_key()));
  EXPECT_EQ(xml, ReadFile(kTestDir + "/golden/sample_products.xml"));  // the exact expected content
  EXPECT_EQ(rec->sha256(), crypto::Sha256Hex(xml));                    // the checksum verifies
  const auto head = s3c.HeadObject(kConverted, s3::ObjectKey(rec->output_key()));
  EXPECT_EQ(head.metadata.at("sha256"), crypto::Sha256Hex(xml));
  EXPECT_EQ(head.checksum_sha256, crypto::Sha256Base64(xml));
  EXPECT_EQ(rec->attempts(), 1u);

  auto completed = events.Wait(key, "COMPLETED", 1, 20s);
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0]["etag"], etag);
  const auto all = events.Events();
  EXPECT_EQ(CountState(all, key, "PENDING"), 1u);
  EXPECT_EQ(CountState(all, key, "IN_PROGRESS"), 1u);
  const std::string metrics = converter.Metrics();
  EXPECT_NE(metrics.find("converter_files_total{result=\"completed\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("converter_bytes_in_total " + std::to_string(json.size())), std::string::npos);
  EXPECT_NE(metrics.find("converter_bytes_out_total " + std::to_string(xml.size())), std::string::npos);
  EXPECT_NE(metrics.find("converter_conversion_seconds_count 1"), std::string::npos);
  EXPECT_EQ(metrics.find("converter_conversion_bytes_per_second 0\n"), std::string::npos) << "set on success";
  EXPECT_NE(metrics.find("converter_part_retries_total 0"), std::string::npos);
  // The tracker's own figures (its key prefix is this test's alone).
  const auto tracker_metrics = [&] { return tracker.Metrics(); };
  std::string tm = tracker_metrics();
  for (int i = 0; i < 40 && tm.find("state_files{state=\"COMPLETED\"} 1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // refreshed every sweep
    tm = tracker_metrics();
  }
  EXPECT_NE(tm.find("state_files{state=\"COMPLETED\"} 1"), std::string::npos) << tm;
  EXPECT_NE(tm.find("state_claim_latency_seconds_count"), std::string::npos) << tm;

  converter.process->Signal(SIGTERM);
  tracker.process->Signal(SIGTERM);
  EXPECT_EQ(converter.process->Wait(30s), 0);
  EXPECT_EQ(tracker.process->Wait(30s), 0);
  // Read after exit: info lines reach stdout within a second, and at exit for sure.
  EXPECT_NE(converter.Logs().find("\"msg\":\"completed\""), std::string::npos);
}

TEST(FilesPipeline, CorruptJsonFailsWithItsErrorAndNothingInConverted) {
  const std::string dir = UniqueName("corrupt");
  StateEvents events(dir + "/");
  Service tracker(RAINBOW_TRACKER_BIN,
                  TrackerEnv(UniqueName("corrupt:{files}") + ":", "raw/" + dir + "/", UniqueName("tracker")));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  Service converter(RAINBOW_CONVERTER_BIN, ConverterEnv(tracker.grpc_addr(), UniqueName("conv")));
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  auto stub = TrackerStub(tracker.grpc_addr());
  s3::S3Client s3c(S3FromEnv());

  const std::string key = dir + "/broken.json";
  s3c.PutObject(kRaw, s3::ObjectKey(key), R"([{"ean":"1","name":"x"}, {"ean": ])");
  const auto rec = WaitForState(*stub, "raw", key, files::v1::FAILED, 90s);
  ASSERT_TRUE(rec && rec->state() == files::v1::FAILED)
      << (rec ? rec->DebugString() : "") << converter.Logs();
  EXPECT_NE(rec->error().find("invalid JSON at byte 33"), std::string::npos) << rec->error();
  EXPECT_FALSE(rec->retryable());
  EXPECT_EQ(rec->attempts(), 1u);
  EXPECT_THROW(s3c.HeadObject(kConverted, s3::ObjectKey(dir + "/broken.xml")), s3::S3Error);
  EXPECT_TRUE(s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.empty());
  auto failed = events.Wait(key, "FAILED", 1, 20s);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0]["error"].get<std::string>().find("invalid JSON"), std::string::npos);
  EXPECT_NE(converter.Metrics().find("converter_failures_total{reason=\"invalid_json\"} 1"),
            std::string::npos);
}

TEST(FilesPipeline, KilledConverterLeaseExpiresAndRestartedWorkerCompletesOnce) {
  const std::string dir = UniqueName("kill");
  StateEvents events(dir + "/");
  Service tracker(RAINBOW_TRACKER_BIN,
                  TrackerEnv(UniqueName("kill:{files}") + ":", "raw/" + dir + "/", UniqueName("tracker")));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  auto stub = TrackerStub(tracker.grpc_addr());
  s3::S3Client s3c(S3FromEnv());

  // A file big enough to be mid-conversion when the kill lands (the converter throttled to one ranged
  // GET of 256 KiB at a time).
  const std::string key = dir + "/big.json";
  GeneratedProducts gen(200ull << 20);
  s3c.UploadMultipart(kRaw, s3::ObjectKey(key), [&](char* out, size_t max) { return gen.Read(out, max); },
                      {16ull << 20, 2});
  auto env1 = ConverterEnv(tracker.grpc_addr(), "victim", 1);
  env1["CONVERTER_DOWNLOAD_CONCURRENCY"] = "1";
  env1["CONVERTER_DOWNLOAD_PART_SIZE"] = std::to_string(256 << 10);
  Service victim(RAINBOW_CONVERTER_BIN, env1);
  ASSERT_TRUE(victim.WaitReady()) << victim.Logs();
  ASSERT_TRUE(WaitForState(*stub, "raw", key, files::v1::IN_PROGRESS, 90s).has_value()) << victim.Logs();
  // Let it upload at least one part, then kill -9 mid-file.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (victim.Metrics().find("converter_bytes_out_total 0\n") != std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  victim.process->Signal(SIGKILL);
  ASSERT_EQ(victim.process->Wait(10s), 128 + SIGKILL);
  const auto held = GetRecord(*stub, "raw", key);
  ASSERT_TRUE(held);
  ASSERT_EQ(held->state(), files::v1::IN_PROGRESS) << "the victim finished before the kill";
  EXPECT_EQ(held->worker_id(), "victim-0");

  Service rescuer(RAINBOW_CONVERTER_BIN, ConverterEnv(tracker.grpc_addr(), "rescuer", 1));
  ASSERT_TRUE(rescuer.WaitReady()) << rescuer.Logs();
  const auto rec = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 180s);
  ASSERT_TRUE(rec && rec->state() == files::v1::COMPLETED)
      << (rec ? rec->DebugString() : "") << rescuer.Logs();
  EXPECT_EQ(rec->worker_id(), "rescuer-0");
  EXPECT_EQ(rec->attempts(), 2u);
  // History (newest first): COMPLETED <- IN_PROGRESS (rescuer) <- PENDING (lease expired) <- IN_PROGRESS
  // (victim).
  ASSERT_GE(rec->history_size(), 5);
  EXPECT_EQ(rec->history(0).to(), files::v1::COMPLETED);
  EXPECT_EQ(rec->history(1).worker_id(), "rescuer-0");
  EXPECT_EQ(rec->history(2).to(), files::v1::PENDING);
  EXPECT_NE(rec->history(2).error().find("expired"), std::string::npos);
  EXPECT_EQ(rec->history(3).worker_id(), "victim-0");
  // The output verifies against the recorded checksum.
  uint64_t size = 0;
  EXPECT_EQ(ObjectSha256(s3c, kConverted, rec->output_key(), &size), rec->sha256());
  EXPECT_GT(size, gen.produced);
  // Completed exactly once: wait for the event (files.state may hold a long history to read first,
  // and the relay publishes behind the state), then give a late duplicate time to show up.
  ASSERT_EQ(events.Wait(key, "COMPLETED", 1, 60s).size(), 1u);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(CountState(events.Events(), key, "COMPLETED"), 1u);
  s3c.DeleteObject(kRaw, s3::ObjectKey(key));
  s3c.DeleteObject(kConverted, s3::ObjectKey(rec->output_key()));
  // The victim's multipart upload was never completed: invisible, left for the bucket's lifecycle.
}

TEST(FilesPipeline, TwoTrackersTwoConvertersFiveHundredFilesEachCompletedOnce) {
  const std::string dir = UniqueName("many");
  StateEvents events(dir + "/");
  const std::string prefix = UniqueName("many:{files}") + ":";
  const std::string group = UniqueName("tracker");
  // Two trackers sharing the Redis keys and the consumer group (they split files.events' partitions).
  Service t1(RAINBOW_TRACKER_BIN, TrackerEnv(prefix, "raw/" + dir + "/", group));
  Service t2(RAINBOW_TRACKER_BIN, TrackerEnv(prefix, "raw/" + dir + "/", group));
  ASSERT_TRUE(t1.WaitReady()) << t1.Logs();
  ASSERT_TRUE(t2.WaitReady()) << t2.Logs();
  Service c1(RAINBOW_CONVERTER_BIN, ConverterEnv(t1.grpc_addr(), "c1", 4));
  Service c2(RAINBOW_CONVERTER_BIN, ConverterEnv(t2.grpc_addr(), "c2", 4));
  ASSERT_TRUE(c1.WaitReady()) << c1.Logs();
  ASSERT_TRUE(c2.WaitReady()) << c2.Logs();
  auto stub = TrackerStub(t1.grpc_addr());

  constexpr int kFiles = 500;
  std::vector<std::thread> uploaders;
  for (int t = 0; t < 8; ++t) {
    uploaders.emplace_back([&, t] {
      s3::S3Client s3c(S3FromEnv());
      for (int i = t; i < kFiles; i += 8) {
        s3c.PutObject(kRaw, s3::ObjectKey(dir + "/f" + std::to_string(i) + ".json"),
                      R"([{"id":)" + std::to_string(i) + R"(,"tags":["x"]}])");
      }
    });
  }
  for (auto& t : uploaders) t.join();

  files::v1::StatsResponse stats;
  const auto deadline = std::chrono::steady_clock::now() + 240s;
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Stats(&ctx, files::v1::StatsRequest(), &stats).ok());
    if (stats.completed() + stats.failed() >= kFiles) break;
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_EQ(stats.completed(), static_cast<uint64_t>(kFiles)) << stats.DebugString();
  EXPECT_EQ(stats.failed(), 0u);
  EXPECT_EQ(stats.pending() + stats.in_progress(), 0u);

  // Each file COMPLETED exactly once (files.state), claimed once, and its XML present. The events reach
  // Kafka through the trackers' outbox relays, behind the states: wait for all of them (bounded).
  std::map<std::string, int> completed, claimed;
  const auto events_deadline = std::chrono::steady_clock::now() + 90s;
  do {
    std::this_thread::sleep_for(1s);
    completed.clear();
    claimed.clear();
    for (const auto& e : events.Events()) {
      if (e["state"] == "COMPLETED") ++completed[e["key"]];
      if (e["state"] == "IN_PROGRESS") ++claimed[e["key"]];
    }
  } while (completed.size() < static_cast<size_t>(kFiles) &&
           std::chrono::steady_clock::now() < events_deadline);
  std::this_thread::sleep_for(2s);  // a late duplicate would show up now
  completed.clear();
  claimed.clear();
  for (const auto& e : events.Events()) {
    if (e["state"] == "COMPLETED") ++completed[e["key"]];
    if (e["state"] == "IN_PROGRESS") ++claimed[e["key"]];
  }
  EXPECT_EQ(completed.size(), static_cast<size_t>(kFiles));
  for (const auto& [k, n] : completed) EXPECT_EQ(n, 1) << k;
  for (const auto& [k, n] : claimed) EXPECT_EQ(n, 1) << k;
  s3::S3Client s3c(S3FromEnv());
  size_t outputs = 0;
  std::string token;
  do {
    s3::ListOptions lo;
    lo.prefix = dir + "/";
    lo.continuation_token = token;
    auto page = s3c.ListObjectsV2(kConverted, lo);
    outputs += page.objects.size();
    token = page.next_continuation_token;
  } while (!token.empty());
  EXPECT_EQ(outputs, static_cast<size_t>(kFiles));
  // Both converters did work.
  EXPECT_EQ(c1.Metrics().find("converter_files_total{result=\"completed\"} 0\n"), std::string::npos);
  EXPECT_EQ(c2.Metrics().find("converter_files_total{result=\"completed\"} 0\n"), std::string::npos);
}

TEST(FilesPipeline, OneGigabyteConvertsWithBoundedMemory) {
  const std::string dir = UniqueName("gigabyte");
  s3::S3Client s3c(S3FromEnv());
  const std::string key = dir + "/1gb.json";
  GeneratedProducts gen(1ull << 30);
  const auto t0 = std::chrono::steady_clock::now();
  s3c.UploadMultipart(kRaw, s3::ObjectKey(key), [&](char* out, size_t max) { return gen.Read(out, max); },
                      {32ull << 20, 3});
  const auto t1 = std::chrono::steady_clock::now();

  // The converter with its default part sizes and concurrency, driven through gRPC Convert.
  auto env = SharedEnv();
  env["CONVERTER_STATE_GRPC"] = "127.0.0.1:1";  // unused: no workers
  env["CONVERTER_WORKERS"] = "0";
  Service converter(RAINBOW_CONVERTER_BIN, env);
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  auto stub = converter::v1::ConverterService::NewStub(
      grpc::CreateChannel(converter.grpc_addr(), grpc::InsecureChannelCredentials()));
  converter::v1::ConvertRequest req;
  req.set_bucket("raw");
  req.set_key(key);
  converter::v1::ConvertResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 600s);
  const auto status = stub->Convert(&ctx, req, &resp);
  const auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(status.ok()) << status.error_message() << converter.Logs();
  const uint64_t peak = PeakRssBytes(converter.process->pid());

  EXPECT_EQ(resp.bytes_in(), gen.produced);
  EXPECT_GE(resp.bytes_in(), 1ull << 30);
  EXPECT_EQ(resp.records(), gen.records);
  uint64_t size = 0;
  EXPECT_EQ(ObjectSha256(s3c, kConverted, resp.output_key(), &size), resp.sha256());
  EXPECT_EQ(size, resp.bytes_out());
  const auto head = s3c.HeadObject(kConverted, s3::ObjectKey(resp.output_key()));
  EXPECT_NE(head.checksum_sha256.find('-'), std::string::npos) << "expected a multipart composite checksum";
  const auto t3 = std::chrono::steady_clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::cout << "generate+upload " << secs(t0, t1) << " s, convert " << secs(t1, t2) << " s ("
            << static_cast<double>(resp.bytes_in()) / 1e6 / secs(t1, t2) << " MB/s in), verify "
            << secs(t2, t3) << " s, peak RSS " << peak / (1 << 20) << " MiB, out "
            << resp.bytes_out() / (1 << 20) << " MiB\n";
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, 64ull << 20) << "peak RSS (VmHWM) of the converter";
  s3c.DeleteObject(kRaw, s3::ObjectKey(key));
  s3c.DeleteObject(kConverted, s3::ObjectKey(resp.output_key()));
}

// On-demand Convert calls are bounded (CONVERTER_MAX_CONCURRENT_CONVERTS): one more while the limit is
// converting is RESOURCE_EXHAUSTED at once, and the slot is free again afterwards.
TEST(FilesPipeline, ConvertCallsBeyondTheLimitAreResourceExhausted) {
  const std::string dir = UniqueName("limit");
  s3::S3Client s3c(S3FromEnv());
  const std::string key = dir + "/slow.json";
  GeneratedProducts gen(40ull << 20);
  s3c.UploadMultipart(kRaw, s3::ObjectKey(key), [&](char* out, size_t max) { return gen.Read(out, max); },
                      {16ull << 20, 2});
  auto env = ConverterEnv("127.0.0.1:1", UniqueName("conv"), 0);
  env["CONVERTER_MAX_CONCURRENT_CONVERTS"] = "1";
  env["CONVERTER_DOWNLOAD_CONCURRENCY"] = "1";
  env["CONVERTER_DOWNLOAD_PART_SIZE"] = std::to_string(64 << 10);
  Service converter(RAINBOW_CONVERTER_BIN, env);
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  auto stub = converter::v1::ConverterService::NewStub(
      grpc::CreateChannel(converter.grpc_addr(), grpc::InsecureChannelCredentials()));
  const auto call = [&] {
    converter::v1::ConvertRequest req;
    req.set_bucket("raw");
    req.set_key(key);
    converter::v1::ConvertResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 120s);
    return stub->Convert(&ctx, req, &resp);
  };
  grpc::Status first;
  std::thread slow([&] { first = call(); });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (converter.Metrics().find("converter_in_flight 1") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_NE(converter.Metrics().find("converter_in_flight 1"), std::string::npos)
      << "the first call is converting";
  const auto second = call();
  const bool still_converting = converter.Metrics().find("converter_in_flight 1") != std::string::npos;
  slow.join();
  ASSERT_TRUE(still_converting) << "the first call ended before the second was answered";
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << second.error_message();
  EXPECT_NE(second.error_message().find("CONVERTER_MAX_CONCURRENT_CONVERTS"), std::string::npos);
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_TRUE(call().ok()) << "the slot is given back";
  s3c.DeleteObject(kRaw, s3::ObjectKey(key));
  s3c.DeleteObject(kConverted, s3::ObjectKey(converter::OutputKeyFor(key)));
}

// S3 unreachable: the converter says so on /readyz (naming s3) and claims nothing, so the file keeps
// its attempts; a converter that reaches S3 then converts it on its first attempt.
TEST(FilesPipeline, ConverterClaimsNothingWhileS3IsDownAndSaysSo) {
  const std::string dir = UniqueName("e2e");
  Service tracker(RAINBOW_TRACKER_BIN,
                  TrackerEnv(UniqueName("e2e:{files}") + ":", "raw/" + dir + "/", UniqueName("tracker")));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  auto down_env = ConverterEnv(tracker.grpc_addr(), UniqueName("down"));
  down_env["S3_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(testing::FreePort());  // nothing listens
  down_env["CONVERTER_HEALTH_INTERVAL"] = "500ms";
  Service down(RAINBOW_CONVERTER_BIN, down_env);

  s3::S3Client s3c(S3FromEnv());
  const std::string key = dir + "/while-s3-down.json";
  const std::string json = R"([{"name":"a"}])";
  s3c.PutObject(kRaw, s3::ObjectKey(key), json);
  auto stub = TrackerStub(tracker.grpc_addr());
  ASSERT_TRUE(WaitForState(*stub, "raw", key, files::v1::PENDING, 30s).has_value());

  std::pair<long, std::string> readyz;
  for (int i = 0; i < 50; ++i) {
    readyz = testing::HttpGet("http://127.0.0.1:" + std::to_string(down.http_port) + "/readyz");
    if (readyz.first == 503 && readyz.second.find("\"s3\"") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(readyz.first, 503) << readyz.second;
  EXPECT_NE(readyz.second.find("\"s3\""), std::string::npos) << readyz.second;
  std::this_thread::sleep_for(3s);  // six health checks, and claims it would have made by now
  const auto waiting = GetRecord(*stub, "raw", key);
  ASSERT_TRUE(waiting.has_value());
  EXPECT_EQ(waiting->state(), files::v1::PENDING) << waiting->DebugString() << down.Logs();
  EXPECT_EQ(waiting->attempts(), 0u) << waiting->DebugString();

  Service up(RAINBOW_CONVERTER_BIN, ConverterEnv(tracker.grpc_addr(), UniqueName("up")));
  const auto done = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 60s);
  ASSERT_TRUE(done && done->state() == files::v1::COMPLETED)
      << (done ? done->DebugString() : "") << up.Logs();
  EXPECT_EQ(done->attempts(), 1u);
}

// An object deleted from `raw` before it was converted ends REMOVED, not FAILED: by its s3:ObjectRemoved
// notification (no converter runs while it arrives), or, when the converter gets there first, by the
// NoSuchKey the converter reports (here: a file registered by hand for a key that is not in S3).
TEST(FilesPipeline, ObjectDeletedBeforeConversionEndsRemovedNotFailed) {
  const std::string dir = UniqueName("removed");
  Service tracker(RAINBOW_TRACKER_BIN,
                  TrackerEnv(UniqueName("removed:{files}") + ":", "raw/" + dir + "/", UniqueName("tracker")));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  auto stub = TrackerStub(tracker.grpc_addr());
  s3::S3Client s3c(S3FromEnv());

  const std::string deleted = dir + "/deleted.json";
  s3c.PutObject(kRaw, s3::ObjectKey(deleted), R"([{"name":"a"}])");
  ASSERT_TRUE(WaitForState(*stub, "raw", deleted, files::v1::PENDING, 30s).has_value()) << tracker.Logs();
  s3c.DeleteObject(kRaw, s3::ObjectKey(deleted));
  const auto by_event = WaitForState(*stub, "raw", deleted, files::v1::REMOVED, 30s);
  ASSERT_TRUE(by_event && by_event->state() == files::v1::REMOVED)
      << (by_event ? by_event->DebugString() : "") << tracker.Logs();
  EXPECT_EQ(by_event->attempts(), 0u);

  const std::string missing = dir + "/never-uploaded.json";
  {
    files::v1::RegisterRequest req;
    req.mutable_file()->set_bucket("raw");
    req.mutable_file()->set_key(missing);
    req.mutable_file()->set_etag("0123456789abcdef0123456789abcdef");
    req.set_size(10);
    files::v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Register(&ctx, req, &resp).ok());
  }
  Service converter(RAINBOW_CONVERTER_BIN, ConverterEnv(tracker.grpc_addr(), UniqueName("conv")));
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  const auto by_worker = WaitForState(*stub, "raw", missing, files::v1::REMOVED, 60s);
  ASSERT_TRUE(by_worker && by_worker->state() == files::v1::REMOVED)
      << (by_worker ? by_worker->DebugString() : "") << converter.Logs();
  EXPECT_NE(by_worker->error().find("no longer exists"), std::string::npos) << by_worker->error();
  EXPECT_EQ(by_worker->attempts(), 1u);
  EXPECT_NE(converter.Metrics().find("converter_failures_total{reason=\"source_removed\"} 1"),
            std::string::npos);
  // Neither is FAILED, and the tracker counts both as REMOVED.
  files::v1::StatsResponse stats;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Stats(&ctx, {}, &stats).ok());
  EXPECT_EQ(stats.removed(), 2u);
  EXPECT_EQ(stats.failed(), 0u);
}

// --- Faults between the converter and S3 (tests/support/s3_fault_proxy): the converter's S3 traffic
// goes through the proxy; the tracker and the test talk to MinIO directly.

int MinioPort() {
  const std::string endpoint = StackEnv("S3_ENDPOINT");
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

std::map<std::string, std::string> ConverterVia(const testing::S3FaultProxy& proxy,
                                                const std::string& tracker_addr,
                                                const std::string& worker_id) {
  auto env = ConverterEnv(tracker_addr, worker_id, 1);
  env["S3_ENDPOINT"] = proxy.endpoint();
  env["CONVERTER_PART_ATTEMPTS"] = "5";  // a part refused five times in a row fails the attempt
  return env;
}

// Polls until the file is FAILED for good (not retryable: no attempts left), or the timeout passes;
// returns the last record seen.
std::optional<files::v1::FileRecord> WaitForFinalFailure(files::v1::FileStateService::Stub& stub,
                                                         const std::string& key,
                                                         std::chrono::seconds timeout) {
  std::optional<files::v1::FileRecord> last;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    last = GetRecord(stub, "raw", key);
    if (last && last->state() == files::v1::FAILED && !last->retryable()) return last;
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

// A tracker accepting raw/<dir>/ and one converter whose S3 traffic goes through `proxy` (its rules
// set before, so the first request meets them), for the fault tests. Start waits for the tracker, and
// for the converter unless converter_ready is false.
struct ProxiedFiles {
  void Start(const testing::S3FaultProxy& proxy, const std::string& dir,
             const std::map<std::string, std::string>& tracker_extra = {},
             const std::map<std::string, std::string>& converter_extra = {}, bool converter_ready = true) {
    auto tracker_env = TrackerEnv(dir + ":{files}:", "raw/" + dir + "/", UniqueName("tracker"));
    for (const auto& [k, v] : tracker_extra) tracker_env[k] = v;
    tracker = std::make_unique<Service>(RAINBOW_TRACKER_BIN, tracker_env);
    ASSERT_TRUE(tracker->WaitReady()) << tracker->Logs();
    auto converter_env = ConverterVia(proxy, tracker->grpc_addr(), UniqueName("conv"));
    for (const auto& [k, v] : converter_extra) converter_env[k] = v;
    converter = std::make_unique<Service>(RAINBOW_CONVERTER_BIN, converter_env);
    if (converter_ready) {
      ASSERT_TRUE(converter->WaitReady()) << converter->Logs();
    }
    stub = TrackerStub(tracker->grpc_addr());
  }
  std::unique_ptr<Service> tracker;
  std::unique_ptr<Service> converter;
  std::unique_ptr<files::v1::FileStateService::Stub> stub;
};

bool HistoryHas(const files::v1::FileRecord& r, files::v1::FileState to, const std::string& error_part) {
  for (const auto& t : r.history()) {
    if (t.to() == to && t.error().find(error_part) != std::string::npos) return true;
  }
  return false;
}

// Source bytes changed on the way (one character of a string value, so the JSON stays valid): the
// SHA-256 of what was read does not match the one the source declares, every attempt fails, and
// nothing is ever published in `converted`.
TEST(FilesPipeline, SourceBytesCorruptedInTransitFailTheFileWithNothingPublished) {
  const std::string dir = UniqueName("corrupt-in");
  testing::S3FaultProxy proxy(MinioPort());
  proxy.ReplaceInBody({"GET", "/raw/" + dir + "/"}, "needle", "neEdle");
  ProxiedFiles pipeline;
  ASSERT_NO_FATAL_FAILURE(pipeline.Start(proxy, dir));
  auto& converter = *pipeline.converter;
  auto& stub = pipeline.stub;
  s3::S3Client s3c(S3FromEnv());

  const std::string key = dir + "/products.json";
  s3c.PutObject(kRaw, s3::ObjectKey(key), R"([{"ean":"1","name":"needle in a haystack"}])");
  ASSERT_FALSE(s3c.HeadObject(kRaw, s3::ObjectKey(key)).checksum_sha256.empty())
      << "the source declares its SHA-256";
  const auto rec = WaitForFinalFailure(*stub, key, 90s);
  ASSERT_TRUE(rec && rec->state() == files::v1::FAILED && !rec->retryable())
      << (rec ? rec->DebugString() : "") << converter.Logs();
  EXPECT_EQ(rec->attempts(), 3u) << "each attempt read corrupted bytes and failed";
  EXPECT_NE(rec->error().find("SHA-256"), std::string::npos) << rec->error();
  EXPECT_GE(proxy.faults(), 3) << "the proxy changed every download";
  EXPECT_TRUE(s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.empty())
      << "a corrupted conversion was published";
  EXPECT_NE(converter.Metrics().find("converter_failures_total{reason=\"checksum_mismatch\"} 3"),
            std::string::npos)
      << converter.Metrics();
}

// The output's SHA-256 as S3 reports it (HEAD after the write) differs from what the converter sent:
// the output is deleted, the attempt fails, and after the last attempt the file is FAILED with nothing
// left in `converted`.
TEST(FilesPipeline, OutputChecksumMismatchAfterTheWriteFailsTheFileWithNothingPublished) {
  const std::string dir = UniqueName("corrupt-out");
  testing::S3FaultProxy proxy(MinioPort());
  proxy.CorruptHeader({"HEAD", "/converted/" + dir + "/"}, "x-amz-checksum-sha256");
  ProxiedFiles pipeline;
  ASSERT_NO_FATAL_FAILURE(pipeline.Start(proxy, dir));
  auto& converter = *pipeline.converter;
  auto& stub = pipeline.stub;
  s3::S3Client s3c(S3FromEnv());

  const std::string key = dir + "/products.json";
  s3c.PutObject(kRaw, s3::ObjectKey(key), R"([{"ean":"1","name":"a"},{"ean":"2","name":"b"}])");
  const auto rec = WaitForFinalFailure(*stub, key, 90s);
  ASSERT_TRUE(rec && rec->state() == files::v1::FAILED && !rec->retryable())
      << (rec ? rec->DebugString() : "") << converter.Logs();
  EXPECT_EQ(rec->attempts(), 3u);
  EXPECT_NE(rec->error().find("does not match"), std::string::npos) << rec->error();
  EXPECT_GE(proxy.faults(), 3);
  EXPECT_TRUE(s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.empty()) << "an unverified output was left";
  EXPECT_NE(converter.Metrics().find("converter_failures_total{reason=\"verify_failed\"} 3"),
            std::string::npos)
      << converter.Metrics();
}

// S3 fails in the middle of a conversion: part 2 of the multipart output is refused (503) more times
// than the S3 client retries. The failure is S3's, so it does not use up the file's one attempt
// (STATE_MAX_ATTEMPTS=1: a failure counted against the file would end it FAILED); the file is
// claimed again after a back-off and COMPLETED once, its output verified.
TEST(FilesPipeline, S3FailingMidConversionIsRetriedWithoutUsingUpAttempts) {
  const std::string dir = UniqueName("s3-mid");
  testing::S3FaultProxy proxy(MinioPort());
  constexpr int kRefusals = 12;  // more than two attempts' worth of the client's own retries of one part
  proxy.FailRequests({"PUT", "partNumber=2&"}, kRefusals);
  auto tracker_env =
      TrackerEnv(UniqueName("s3-mid:{files}") + ":", "raw/" + dir + "/", UniqueName("tracker"));
  tracker_env["STATE_MAX_ATTEMPTS"] = "1";
  ProxiedFiles pipeline;
  ASSERT_NO_FATAL_FAILURE(pipeline.Start(proxy, dir, {{"STATE_MAX_ATTEMPTS", "1"}}, {}));
  auto& converter = *pipeline.converter;
  auto& stub = pipeline.stub;
  s3::S3Client s3c(S3FromEnv());

  const std::string key = dir + "/products.json";
  GeneratedProducts gen(12ull << 20);  // about 16 MiB of XML: parts of 5 MiB
  s3c.UploadMultipart(kRaw, s3::ObjectKey(key), [&](char* out, size_t max) { return gen.Read(out, max); },
                      {8ull << 20, 2});
  const auto rec = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 180s);
  ASSERT_TRUE(rec && rec->state() == files::v1::COMPLETED)
      << (rec ? rec->DebugString() : "") << converter.Logs();
  EXPECT_EQ(proxy.faults(), kRefusals) << "every refusal was met";
  EXPECT_GE(rec->attempts(), 2u) << rec->DebugString();
  const auto full = GetRecord(*stub, "raw", key);
  ASSERT_TRUE(full.has_value());
  EXPECT_TRUE(HistoryHas(*full, files::v1::FAILED, "ServiceUnavailable")) << full->DebugString();
  EXPECT_EQ(ObjectSha256(s3c, kConverted, rec->output_key()), rec->sha256());
  EXPECT_NE(converter.Metrics().find("converter_failures_total{reason=\"s3\"}"), std::string::npos);
  s3c.DeleteObject(kRaw, s3::ObjectKey(key));
  s3c.DeleteObject(kConverted, s3::ObjectKey(rec->output_key()));
}

// Item 1 of the reliability issue: a converter cut off from its tracker (frozen with SIGSTOP in the
// middle of a conversion, whose download the proxy keeps slow) stops by itself when its lease runs
// out by its own clock, before the tracker is back, so it cannot go on writing a file another worker
// may own by then. Once the tracker is back, the expired lease is swept and the file is converted
// again, COMPLETED once.
TEST(FilesPipeline, ConverterCutOffFromAFrozenTrackerStopsAtItsLeaseDeadline) {
  const std::string dir = UniqueName("frozen-tracker");
  testing::S3FaultProxy proxy(MinioPort());
  proxy.SlowDown({"GET", "/raw/" + dir + "/"}, 200 * 1024);
  ProxiedFiles pipeline;
  ASSERT_NO_FATAL_FAILURE(pipeline.Start(proxy, dir));
  auto& tracker = *pipeline.tracker;
  auto& converter = *pipeline.converter;
  auto& stub = pipeline.stub;
  s3::S3Client s3c(S3FromEnv());

  const std::string key = dir + "/products.json";
  GeneratedProducts gen(2ull << 20);  // about 10 s to download at the proxy's pace
  std::string json;
  char buf[65536];
  for (size_t n; (n = gen.Read(buf, sizeof(buf))) > 0;) json.append(buf, n);
  s3c.PutObject(kRaw, s3::ObjectKey(key), json);
  const auto held = WaitForState(*stub, "raw", key, files::v1::IN_PROGRESS, 30s);
  ASSERT_TRUE(held && held->state() == files::v1::IN_PROGRESS) << converter.Logs();
  std::this_thread::sleep_for(1s);  // well into the download
  tracker.process->Signal(SIGSTOP);
  bool stopped_by_itself = false;
  for (int i = 0; i < 100 && !stopped_by_itself; ++i) {  // the lease is 3 s, heartbeats every 1 s
    std::this_thread::sleep_for(100ms);
    const auto logs = converter.process->Stdout();
    stopped_by_itself = logs.find("\"msg\":\"conversion cancelled\"") != std::string::npos &&
                        logs.find("expired locally") != std::string::npos;
  }
  const bool converted_meanwhile = !s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.empty();
  proxy.Clear();
  tracker.process->Signal(SIGCONT);
  ASSERT_TRUE(stopped_by_itself) << "the converter went on past its lease while the tracker was frozen\n"
                                 << converter.Logs();
  EXPECT_FALSE(converted_meanwhile) << "an output was published by a worker whose lease had run out";

  const auto done = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 90s);
  ASSERT_TRUE(done && done->state() == files::v1::COMPLETED)
      << (done ? done->DebugString() : "") << converter.Logs();
  EXPECT_EQ(done->attempts(), 2u) << done->DebugString();
  EXPECT_EQ(ObjectSha256(s3c, kConverted, done->output_key()), done->sha256());
  EXPECT_EQ(s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.size(), 1u);
  EXPECT_GE(proxy.faults(), 1);
  s3c.DeleteObject(kRaw, s3::ObjectKey(key));
  s3c.DeleteObject(kConverted, s3::ObjectKey(done->output_key()));
}

// S3 as a black hole (every request taken and never answered, as a MinIO frozen with SIGSTOP): the
// converter's health probe times out instead of hanging, /readyz names s3, nothing is claimed, and
// once S3 answers again the file is converted with its first attempt.
TEST(FilesPipeline, ConverterWaitsOutAnS3ThatAnswersNothing) {
  const std::string dir = UniqueName("s3-hole");
  testing::S3FaultProxy proxy(MinioPort());
  proxy.Hang({"", "/"});
  ProxiedFiles pipeline;
  ASSERT_NO_FATAL_FAILURE(
      pipeline.Start(proxy, dir, {}, {{"CONVERTER_HEALTH_INTERVAL", "500ms"}}, /*converter_ready=*/false));
  auto& converter = *pipeline.converter;
  auto& stub = pipeline.stub;
  s3::S3Client s3c(S3FromEnv());
  const std::string key = dir + "/products.json";
  s3c.PutObject(kRaw, s3::ObjectKey(key), R"([{"name":"a"}])");
  ASSERT_TRUE(WaitForState(*stub, "raw", key, files::v1::PENDING, 30s).has_value());

  std::pair<long, std::string> readyz;
  for (int i = 0; i < 200; ++i) {  // the probe gives up after its 5 s request timeout
    readyz = testing::HttpGet("http://127.0.0.1:" + std::to_string(converter.http_port) + "/readyz");
    if (readyz.first == 503 && readyz.second.find("\"s3\"") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(readyz.first, 503) << readyz.second;
  EXPECT_NE(readyz.second.find("\"s3\""), std::string::npos) << readyz.second;
  std::this_thread::sleep_for(3s);
  const auto waiting = GetRecord(*stub, "raw", key);
  ASSERT_TRUE(waiting.has_value());
  EXPECT_EQ(waiting->state(), files::v1::PENDING) << waiting->DebugString() << converter.Logs();
  EXPECT_GE(proxy.faults(), 1);

  proxy.Clear();
  const auto done = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 60s);
  ASSERT_TRUE(done && done->state() == files::v1::COMPLETED)
      << (done ? done->DebugString() : "") << converter.Logs();
  EXPECT_EQ(done->attempts(), 1u);
}

// MinIO itself frozen with SIGSTOP in the middle of a conversion (a MinIO of the test's own: the kernel
// still takes connections, nothing answers). The conversion's requests stall out within
// S3_STALL_TIMEOUT instead of hanging, the attempt ends as an infrastructure failure that does not use
// up attempts (STATE_MAX_ATTEMPTS=1), /readyz names s3 and nothing more is claimed; after SIGCONT the
// file is converted and COMPLETED once, its output verified.
TEST(FilesPipeline, MinioFrozenMidConversionIsWaitedOutAndTheFileCompletesOnce) {
  testing::PrivateMinio minio;
  const std::string dir = UniqueName("frozen-minio");
  auto tracker_env = TrackerEnv(dir + ":{files}:", "raw/" + dir + "/", UniqueName("tracker"));
  tracker_env["S3_ENDPOINT"] = minio.endpoint();
  tracker_env["STATE_MAX_ATTEMPTS"] = "1";
  Service tracker(RAINBOW_TRACKER_BIN, tracker_env);
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  auto converter_env = ConverterEnv(tracker.grpc_addr(), UniqueName("conv"), 1);
  converter_env["S3_ENDPOINT"] = minio.endpoint();
  converter_env["S3_STALL_TIMEOUT"] = "2s";
  converter_env["CONVERTER_HEALTH_INTERVAL"] = "500ms";
  Service converter(RAINBOW_CONVERTER_BIN, converter_env);
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  auto stub = TrackerStub(tracker.grpc_addr());
  auto s3_config = S3FromEnv();
  s3_config.endpoint = minio.endpoint();
  s3::S3Client s3c(s3_config);

  const std::string key = dir + "/products.json";
  GeneratedProducts gen(160ull << 20);  // a few seconds of conversion
  s3c.UploadMultipart(kRaw, s3::ObjectKey(key), [&](char* out, size_t max) { return gen.Read(out, max); },
                      {16ull << 20, 2});
  std::optional<files::v1::FileRecord> held;
  for (const auto end = std::chrono::steady_clock::now() + 60s;
       (!held || held->state() != files::v1::IN_PROGRESS) && std::chrono::steady_clock::now() < end;) {
    held = GetRecord(*stub, "raw", key);
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(held && held->state() == files::v1::IN_PROGRESS) << converter.Logs();
  std::this_thread::sleep_for(300ms);  // into the transfer
  testing::FrozenProcessTree frozen(minio.pid());
  const auto frozen_at = std::chrono::steady_clock::now();
  const bool converting_at_freeze = converter.Metrics().find("converter_in_flight 1") != std::string::npos;

  // Frozen: the attempt ends by itself (infrastructure FAILED in the history), /readyz names s3.
  bool attempt_ended = false;
  std::pair<long, std::string> readyz;
  for (const auto end = std::chrono::steady_clock::now() + 90s;
       !attempt_ended && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(200ms);
    const auto r = GetRecord(*stub, "raw", key);
    attempt_ended = r && HistoryHas(*r, files::v1::FAILED, "");
  }
  for (int i = 0; i < 100; ++i) {
    readyz = testing::HttpGet("http://127.0.0.1:" + std::to_string(converter.http_port) + "/readyz");
    if (readyz.first == 503) break;
    std::this_thread::sleep_for(100ms);
  }
  const auto while_frozen = GetRecord(*stub, "raw", key);
  std::cout << "attempt ended within "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - frozen_at)
                   .count()
            << " s of the freeze\n";
  frozen.Thaw();
  ASSERT_TRUE(converting_at_freeze) << "the freeze did not land during a conversion";
  ASSERT_TRUE(attempt_ended) << "the conversion hung on the frozen MinIO\n" << converter.Logs();
  EXPECT_EQ(readyz.first, 503) << readyz.second;
  EXPECT_NE(readyz.second.find("\"s3\""), std::string::npos) << readyz.second;
  ASSERT_TRUE(while_frozen.has_value());
  EXPECT_NE(while_frozen->state(), files::v1::COMPLETED) << while_frozen->DebugString();

  const auto done = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 180s);
  ASSERT_TRUE(done && done->state() == files::v1::COMPLETED)
      << (done ? done->DebugString() : "") << converter.Logs();
  EXPECT_GE(done->attempts(), 2u) << done->DebugString();
  EXPECT_EQ(ObjectSha256(s3c, kConverted, done->output_key()), done->sha256());
  EXPECT_EQ(s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.size(), 1u);
  EXPECT_NE(converter.Metrics().find("converter_failures_total{reason=\"s3\"}"), std::string::npos);
}

// Complete's reply lost: the tracker applied it (the file is COMPLETED in Redis), but its answer comes
// after the converter's deadline (a proxy between the tracker and Redis holds back the reply to the
// Complete script). The converter retries Complete, is told it is done (the same worker, attempt and
// checksum), counts the file completed and leaves its output in place: COMPLETED once, output verified.
TEST(FilesPipeline, CompleteWhoseReplyIsLostIsRetriedAndTheFileCompletesOnce) {
  const std::string dir = UniqueName("lost-complete");
  const std::string redis_url = StackEnv("REDIS_URL");  // redis://127.0.0.1:<port>/<db>
  const auto port_at = redis_url.rfind(':');
  const int redis_port = std::stoi(redis_url.substr(port_at + 1));
  testing::ReplyFaultProxy redis(redis_port);
  auto tracker_env = TrackerEnv(dir + ":{files}:", "raw/" + dir + "/", UniqueName("tracker"));
  tracker_env["REDIS_URL"] = redis_url.substr(0, port_at + 1) + std::to_string(redis.port()) +
                             redis_url.substr(redis_url.find('/', port_at));
  Service tracker(RAINBOW_TRACKER_BIN, tracker_env);
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  auto converter_env = ConverterEnv(tracker.grpc_addr(), UniqueName("conv"), 1);
  converter_env["CONVERTER_STATE_DEADLINE"] = "1s";
  Service converter(RAINBOW_CONVERTER_BIN, converter_env);
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  auto stub = TrackerStub(tracker.grpc_addr());
  s3::S3Client s3c(S3FromEnv());

  // The Complete script is the one command that carries the output key.
  const std::string key = dir + "/products.json";
  redis.ArmHold(converter::OutputKeyFor(key), 3s);
  s3c.PutObject(kRaw, s3::ObjectKey(key), R"([{"name":"a"},{"name":"b"}])");
  const auto done = WaitForState(*stub, "raw", key, files::v1::COMPLETED, 60s);
  ASSERT_TRUE(done && done->state() == files::v1::COMPLETED)
      << (done ? done->DebugString() : "") << converter.Logs();
  ASSERT_EQ(redis.faults(), 1) << "the Complete reply was not held back";
  // The converter's first Complete missed its deadline, and its retry was answered as done.
  bool completed_logged = false;
  for (int i = 0; i < 100 && !completed_logged; ++i) {
    completed_logged = converter.process->Stdout().find("\"msg\":\"completed\"") != std::string::npos;
    if (!completed_logged) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(completed_logged) << converter.Logs();
  EXPECT_EQ(converter.process->Stdout().find("lease was lost before Complete"), std::string::npos)
      << converter.Logs();
  EXPECT_NE(converter.process->Stdout().find("state-tracker Complete: Deadline Exceeded"), std::string::npos)
      << "no Complete missed its deadline\n"
      << converter.Logs();
  EXPECT_EQ(done->attempts(), 1u) << done->DebugString();
  const auto full = GetRecord(*stub, "raw", key);
  ASSERT_TRUE(full.has_value());
  int completions = 0;
  for (const auto& t : full->history()) completions += t.to() == files::v1::COMPLETED;
  EXPECT_EQ(completions, 1) << full->DebugString();
  EXPECT_EQ(ObjectSha256(s3c, kConverted, done->output_key()), done->sha256());
  s3c.DeleteObject(kRaw, s3::ObjectKey(key));
  s3c.DeleteObject(kConverted, s3::ObjectKey(done->output_key()));
}

// The source deleted after its output was written but before Complete reached the tracker (a proxy
// holds the converter's Complete request back meanwhile): the removal notification makes the file
// REMOVED, Complete is refused, and the converter deletes the output it wrote, so no object stands in
// `converted` for a file that will never be COMPLETED.
TEST(FilesPipeline, SourceDeletedBeforeCompleteLeavesNoOutputBehind) {
  const std::string dir = UniqueName("removed-late");
  Service tracker(RAINBOW_TRACKER_BIN,
                  TrackerEnv(dir + ":{files}:", "raw/" + dir + "/", UniqueName("tracker")));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  testing::ReplyFaultProxy to_tracker(tracker.grpc_port);
  Service converter(RAINBOW_CONVERTER_BIN,
                    ConverterEnv("127.0.0.1:" + std::to_string(to_tracker.port()), UniqueName("conv"), 1));
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();
  auto stub = TrackerStub(tracker.grpc_addr());
  s3::S3Client s3c(S3FromEnv());

  const std::string key = dir + "/products.json";
  const std::string output_key = converter::OutputKeyFor(key);
  to_tracker.ArmHoldRequest(output_key, 8s);  // the Complete request is the one that names the output
  s3c.PutObject(kRaw, s3::ObjectKey(key), R"([{"name":"a"}])");
  for (int i = 0; i < 300 && to_tracker.faults() == 0; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(to_tracker.faults(), 1) << "no Complete was held\n" << converter.Logs();
  ASSERT_EQ(s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.size(), 1u) << "the output was not written";

  s3c.DeleteObject(kRaw, s3::ObjectKey(key));
  const auto removed = WaitForState(*stub, "raw", key, files::v1::REMOVED, 30s);
  ASSERT_TRUE(removed && removed->state() == files::v1::REMOVED)
      << (removed ? removed->DebugString() : "") << tracker.Logs();
  bool deleted = false;
  for (int i = 0; i < 300 && !deleted; ++i) {
    deleted = converter.process->Stdout().find("output of a removed source deleted") != std::string::npos;
    if (!deleted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(deleted) << converter.Logs();
  EXPECT_TRUE(s3c.ListObjectsV2(kConverted, {dir + "/"}).objects.empty()) << "an orphan output is left";
  const auto after = GetRecord(*stub, "raw", key);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->state(), files::v1::REMOVED) << after->DebugString();
}

}  // namespace
}  // namespace rainbow
