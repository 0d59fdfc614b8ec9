// state-tracker against a Redis that can lose writes (item: offsets committed only after Redis made the
// write durable), Redis killed -9 in the middle of registrations, and reconciliation of objects whose
// notification never came.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "common/kafka/producer.hpp"
#include "common/redis/client.hpp"
#include "tests/support/files_stack.hpp"

namespace rainbow {
namespace {

using namespace files_test;
using testing::UniqueName;

std::string Notification(const std::string& dir, int i) {
  const std::string key = dir + "%2Ff" + std::to_string(i) + ".json";
  return R"({"EventName":"s3:ObjectCreated:Put","Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":")" +
         key + R"(","size":3,"eTag":"e)" + std::to_string(i) + R"("}}}]})";
}

struct OwnRedis {
  OwnRedis() : port(testing::FreePort()), dir(::testing::TempDir() + "/" + UniqueName("durable-redis")) {
    std::filesystem::create_directories(dir);
  }
  void Start(bool durable) {
    process = std::make_unique<testing::ChildProcess>(
        "/usr/bin/redis-server",
        std::vector<std::string>{"--bind", "127.0.0.1", "--port", std::to_string(port), "--save", "",
                                 "--appendonly", durable ? "yes" : "no", "--appendfsync",
                                 durable ? "always" : "everysec", "--dir", dir},
        std::map<std::string, std::string>{});
    for (int i = 0; i < 100; ++i) {
      try {
        redis::Client c({url()});
        if (c.Command({"PING"}).str == "PONG") return;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port) + "/0"; }
  int64_t Pending(const std::string& prefix) {
    for (int i = 0; i < 50; ++i) {
      try {
        redis::Client c({url()});
        return c.Command({"ZCARD", prefix + "state:PENDING"}).integer;
      } catch (const std::exception&) {  // loading the AOF
        std::this_thread::sleep_for(100ms);
      }
    }
    return -1;
  }
  int port;
  std::string dir;
  std::unique_ptr<testing::ChildProcess> process;
};

int64_t WaitPending(OwnRedis& redis, const std::string& prefix, int64_t want, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int64_t n = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    n = redis.Pending(prefix);
    if (n == want) return n;
    std::this_thread::sleep_for(100ms);
  }
  return n;
}

TEST(StateTrackerDurability, NothingIsRegisteredOrCommittedUntilRedisIsDurableAndKillNineLosesNothing) {
  OwnRedis redis;
  redis.Start(false);  // appendonly no: a restart forgets everything
  const std::string topic = UniqueName("files.events.durable");
  const std::string dir = UniqueName("durable");
  const std::string prefix = UniqueName("durable:{files}") + ":";
  const std::string group = UniqueName("tracker-durable");
  kafka::Producer producer({StackEnv("KAFKA_BROKERS"), "durable-test"});
  constexpr int kFirst = 200;
  for (int i = 0; i < kFirst; ++i) producer.Produce({topic, "raw/" + dir, Notification(dir, i)});
  ASSERT_TRUE(producer.Flush(30s));

  auto env = SharedEnv();
  env["REDIS_URL"] = redis.url();
  env["STATE_REDIS_PREFIX"] = prefix;
  env["STATE_EVENTS_TOPIC"] = topic;
  env["STATE_CONSUMER_GROUP"] = group;
  env["STATE_DURABILITY_CHECK_INTERVAL"] = "200ms";
  env["STATE_RECONCILE_INTERVAL"] = "0";
  Service svc(RAINBOW_TRACKER_BIN, env);
  // Not durable: not ready, says why, and registers nothing (so commits nothing).
  EXPECT_FALSE(svc.WaitReady(4s)) << svc.Logs();
  EXPECT_NE(svc.Logs().find("redis writes are not durable"), std::string::npos) << svc.Logs();
  const auto readyz = testing::HttpGet("http://127.0.0.1:" + std::to_string(svc.http_port) + "/readyz");
  // /readyz names the failing part; the reason (appendonly) is in the log, not on the open endpoint.
  EXPECT_NE(readyz.second.find(R"("failing":["redis durability"])"), std::string::npos) << readyz.second;
  EXPECT_EQ(readyz.second.find("appendonly"), std::string::npos) << readyz.second;
  EXPECT_NE(svc.Logs().find("appendonly"), std::string::npos) << svc.Logs();
  EXPECT_EQ(redis.Pending(prefix), 0) << "registered into a Redis that can lose it";

  // The same Redis made durable: the tracker turns ready and registers the backlog.
  {
    redis::Client c({redis.url()});
    c.Command({"CONFIG", "SET", "appendonly", "yes"});
    c.Command({"CONFIG", "SET", "appendfsync", "always"});
  }
  ASSERT_TRUE(svc.WaitReady(30s)) << svc.Logs();
  ASSERT_EQ(WaitPending(redis, prefix, kFirst, 60s), kFirst) << svc.Logs();

  // Redis killed -9 while registrations (and offset commits) flow, then restarted from its AOF.
  constexpr int kSecond = 3000;
  for (int i = kFirst; i < kFirst + kSecond; ++i)
    producer.Produce({topic, "raw/" + dir, Notification(dir, i)});
  ASSERT_TRUE(producer.Flush(30s));
  int64_t at_kill = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    at_kill = redis.Pending(prefix);
    if (at_kill > kFirst + 100) break;
    std::this_thread::sleep_for(5ms);
  }
  redis.process->Signal(SIGKILL);
  redis.process->Wait(10s);
  // The window was real: part of the second batch registered, part still to come.
  EXPECT_GT(at_kill, kFirst);
  EXPECT_LT(at_kill, kFirst + kSecond) << "the kill came after everything was registered";
  std::this_thread::sleep_for(1s);
  redis.Start(true);
  EXPECT_EQ(WaitPending(redis, prefix, kFirst + kSecond, 90s), kFirst + kSecond) << svc.Logs();
  svc.process->Signal(SIGTERM);
  EXPECT_EQ(svc.process->Wait(30s), 0);
}

// Redis frozen with SIGSTOP (a black hole: the connection stays open, nothing answers): the tracker
// does not hang. Its calls fail within STATE_REDIS_COMMAND_TIMEOUT, /readyz and gRPC health say not
// ready, and on SIGCONT it is ready again and registers without a restart.
TEST(StateTrackerDurability, RedisFrozenMakesTheTrackerNotReadyUntilItAnswersAgain) {
  OwnRedis redis;
  redis.Start(true);
  auto env = SharedEnv();
  env["REDIS_URL"] = redis.url();
  env["STATE_REDIS_PREFIX"] = UniqueName("frozen:{files}") + ":";
  env["STATE_EVENTS_TOPIC"] = UniqueName("files.events.frozen");
  env["STATE_CONSUMER_GROUP"] = UniqueName("tracker-frozen");
  env["STATE_DURABILITY_CHECK_INTERVAL"] = "200ms";
  env["STATE_RECONCILE_INTERVAL"] = "0";
  env["STATE_REDIS_COMMAND_TIMEOUT"] = "1s";
  Service svc(RAINBOW_TRACKER_BIN, env);
  ASSERT_TRUE(svc.WaitReady(30s)) << svc.Logs();
  auto stub = TrackerStub(svc.grpc_addr());
  const auto register_file = [&](const std::string& key) {
    files::v1::RegisterRequest req;
    req.mutable_file()->set_bucket("raw");
    req.mutable_file()->set_key(key);
    req.mutable_file()->set_etag("e1");
    files::v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    return stub->Register(&ctx, req, &resp);
  };
  ASSERT_TRUE(register_file("before.json").ok());

  redis.process->Signal(SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  const auto during = register_file("during.json");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(during.ok()) << "a write answered while Redis was frozen";
  EXPECT_LT(took, 10s) << "the call waited far beyond the command timeout";
  bool not_ready = false;
  std::string readyz;
  for (int i = 0; i < 100 && !not_ready; ++i) {
    const auto r = testing::HttpGet("http://127.0.0.1:" + std::to_string(svc.http_port) + "/readyz");
    readyz = r.second;
    not_ready = r.first == 503;
    if (!not_ready) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(not_ready) << readyz << svc.Logs();
  EXPECT_EQ(svc.WaitGrpcHealth("", "NOT_SERVING"), "NOT_SERVING");

  redis.process->Signal(SIGCONT);
  ASSERT_TRUE(svc.WaitReady(30s)) << svc.Logs();
  EXPECT_TRUE(register_file("after.json").ok());
  files::v1::GetRequest get;
  get.mutable_file()->set_bucket("raw");
  get.mutable_file()->set_key("after.json");
  files::v1::FileRecord rec;
  grpc::ClientContext ctx;
  EXPECT_TRUE(stub->Get(&ctx, get, &rec).ok());
  EXPECT_EQ(rec.state(), files::v1::PENDING);
  svc.process->Signal(SIGTERM);
  EXPECT_EQ(svc.process->Wait(30s), 0);
}

TEST(StateTrackerDurability, ReconciliationRegistersAnObjectWhoseNotificationWasLost) {
  const std::string dir = UniqueName("reconcile");
  s3::S3Client s3c(S3FromEnv());
  const std::string key = dir + "/lost.json";
  const auto put = s3c.PutObject(s3::BucketName("raw"), s3::ObjectKey(key), R"([{"a":1}])");
  auto env = SharedEnv();
  env["STATE_REDIS_PREFIX"] = UniqueName("reconcile:{files}") + ":";
  // A topic nobody writes: MinIO's notification for the put never reaches this tracker.
  env["STATE_EVENTS_TOPIC"] = UniqueName("files.events.silent");
  env["STATE_CONSUMER_GROUP"] = UniqueName("tracker-reconcile");
  env["STATE_ACCEPT_PREFIX"] = "raw/" + dir + "/";
  env["STATE_RECONCILE_INTERVAL"] = "1s";
  Service svc(RAINBOW_TRACKER_BIN, env);
  ASSERT_TRUE(svc.WaitReady()) << svc.Logs();
  auto stub = TrackerStub(svc.grpc_addr());
  auto rec = WaitForState(*stub, "raw", key, files::v1::PENDING, 30s);
  ASSERT_TRUE(rec.has_value()) << svc.Logs();
  EXPECT_EQ(rec->file().etag(), put.etag);
  EXPECT_EQ(rec->size(), 9u);
  std::this_thread::sleep_for(2500ms);  // more passes: a known key is not registered again
  EXPECT_NE(svc.Metrics().find("state_reconciled_total 1\n"), std::string::npos) << svc.Metrics();
  EXPECT_NE(svc.Logs().find("object registered by reconciliation"), std::string::npos);
  s3c.DeleteObject(s3::BucketName("raw"), s3::ObjectKey(key));
}

}  // namespace
}  // namespace rainbow
