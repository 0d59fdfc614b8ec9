// state-tracker as a process against the real stack: a put into `raw` becomes a PENDING file through
// MinIO's notification, every transition reaches files.state, a poison message goes to the DLQ while
// consumption continues, the gRPC API works end to end, and SIGTERM exits 0.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "common/kafka/producer.hpp"
#include "services/state-tracker/src/state_store.hpp"
#include "tests/support/files_stack.hpp"

namespace rainbow {
namespace {

using namespace files_test;
using testing::UniqueName;

struct Tracker {
  explicit Tracker(const std::string& prefix, const std::string& accept) {
    auto env = SharedEnv();
    env["STATE_REDIS_PREFIX"] = prefix;
    env["STATE_ACCEPT_PREFIX"] = accept;
    env["STATE_CONSUMER_GROUP"] = UniqueName("tracker-test");
    env["STATE_SWEEP_INTERVAL"] = "200ms";
    env["STATE_MAX_ATTEMPTS"] = "2";
    env["STATE_RETRY_DELAY"] = "100ms";
    service = std::make_unique<Service>(RAINBOW_TRACKER_BIN, env);
  }
  std::unique_ptr<Service> service;
};

TEST(StateTrackerService, NotificationRegistersAndTransitionsArePublished) {
  const std::string dir = UniqueName("tracker-svc");
  StateEvents events(dir + "/");
  Tracker t(UniqueName("svc:{files}") + ":", "raw/" + dir + "/");
  ASSERT_TRUE(t.service->WaitReady()) << t.service->Logs();
  auto stub = TrackerStub(t.service->grpc_addr());

  s3::S3Client s3c(S3FromEnv());
  const std::string key = dir + "/sub dir/a+b.json";
  const auto put = s3c.PutObject(s3::BucketName("raw"), s3::ObjectKey(key), R"([{"a":1}])");

  auto rec = WaitForState(*stub, "raw", key, files::v1::PENDING, 60s);
  ASSERT_TRUE(rec.has_value()) << t.service->Logs();
  EXPECT_EQ(rec->file().etag(), put.etag);
  EXPECT_EQ(rec->size(), 9u);
  auto pending = events.Wait(key, "PENDING", 1, 20s);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["bucket"], "raw");
  EXPECT_EQ(pending[0]["etag"], put.etag);
  EXPECT_EQ(pending[0]["attempt"], 0);
  EXPECT_TRUE(pending[0]["ts_ms"].is_number());
  // The notification's sequencer was stored: an older version's event replayed over gRPC changes
  // nothing; a malformed sequencer is refused.
  {
    files::v1::RegisterRequest reg;
    reg.mutable_file()->set_bucket("raw");
    reg.mutable_file()->set_key(key);
    reg.mutable_file()->set_etag("an-older-version");
    reg.set_sequencer("0");
    files::v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Register(&ctx, reg, &resp).ok());
    EXPECT_FALSE(resp.created());
    EXPECT_EQ(resp.record().file().etag(), put.etag);
    reg.set_sequencer("not hex");
    grpc::ClientContext bad;
    EXPECT_EQ(stub->Register(&bad, reg, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }

  // Fields over their limits are refused before anything reaches Redis, naming the field.
  files::v1::ClaimRequest claim;
  claim.set_worker_id("test-worker");
  claim.set_max_files(10);
  claim.set_lease_ms(3'600'001);
  files::v1::ClaimResponse claimed;
  {
    grpc::ClientContext ctx;
    const auto st = stub->Claim(&ctx, claim, &claimed);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("lease_ms"), std::string::npos) << st.error_message();
  }
  {
    auto long_worker = claim;
    long_worker.set_lease_ms(30'000);
    long_worker.set_worker_id(std::string(257, 'w'));
    grpc::ClientContext ctx;
    const auto st = stub->Claim(&ctx, long_worker, &claimed);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("worker_id"), std::string::npos) << st.error_message();
  }
  {
    files::v1::RegisterRequest reg;
    reg.mutable_file()->set_bucket("raw");
    reg.mutable_file()->set_key(std::string(1025, 'k'));
    reg.mutable_file()->set_etag("e");
    files::v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    const auto st = stub->Register(&ctx, reg, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("file.key"), std::string::npos) << st.error_message();
  }
  ASSERT_EQ(claimed.files_size(), 0);

  // Claim over gRPC, fail it non-retryably: terminal FAILED, reported on files.state.
  claim.set_lease_ms(30'000);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Claim(&ctx, claim, &claimed).ok());
  }
  ASSERT_EQ(claimed.files_size(), 1);
  EXPECT_EQ(claimed.files(0).file().key(), key);
  EXPECT_EQ(claimed.files(0).attempts(), 1u);
  files::v1::FailRequest fail;
  *fail.mutable_file() = claimed.files(0).file();
  fail.set_worker_id("test-worker");
  fail.set_attempt(2);  // wrong attempt: fenced
  fail.set_error("wrong shape");
  files::v1::FailResponse failed;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub->Fail(&ctx, fail, &failed).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  fail.set_attempt(1);
  fail.set_error("wrong shape" + std::string(10'000, '.'));  // stored cut to 4096 bytes, not refused
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Fail(&ctx, fail, &failed).ok());
  }
  EXPECT_EQ(failed.record().state(), files::v1::FAILED);
  EXPECT_FALSE(failed.record().retryable());
  EXPECT_EQ(failed.record().error(), "wrong shape" + std::string(4096 - 11, '.') + " [cut]");
  auto failed_events = events.Wait(key, "FAILED", 1, 20s);
  ASSERT_EQ(failed_events.size(), 1u);
  EXPECT_EQ(failed_events[0]["error"], failed.record().error());
  EXPECT_EQ(failed_events[0]["attempt"], 1);
  EXPECT_EQ(events.Wait(key, "IN_PROGRESS", 1, 5s).size(), 1u);

  // Get carries the history; List and Stats see the file.
  auto got = GetRecord(*stub, "raw", key);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->history_size(), 3);
  EXPECT_EQ(got->history(0).to(), files::v1::FAILED);
  EXPECT_EQ(got->history(1).to(), files::v1::IN_PROGRESS);
  EXPECT_EQ(got->history(1).worker_id(), "test-worker");
  files::v1::ListRequest list;
  list.set_state(files::v1::FAILED);
  files::v1::ListResponse listed;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->List(&ctx, list, &listed).ok());
  }
  ASSERT_EQ(listed.files_size(), 1);
  EXPECT_EQ(listed.files(0).file().key(), key);
  files::v1::StatsResponse stats;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Stats(&ctx, files::v1::StatsRequest(), &stats).ok());
  }
  EXPECT_EQ(stats.failed(), 1u);
  EXPECT_EQ(stats.pending(), 0u);
  const std::string metrics = t.service->Metrics();
  EXPECT_NE(metrics.find("state_terminal_failures_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("state_transitions_total{to=\"FAILED\"} 1"), std::string::npos);
  EXPECT_NE(t.service->Logs().find("file terminally FAILED"), std::string::npos);

  // Redrive over gRPC: a key without a bucket is refused; the file's prefix moves it back to PENDING,
  // reported on files.state with the attempts reset.
  files::v1::RedriveRequest redrive;
  files::v1::RedriveResponse redriven;
  redrive.set_key_prefix(key.substr(0, 3));
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub->Redrive(&ctx, redrive, &redriven).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  redrive.set_bucket("raw");
  redrive.set_key_prefix(key);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Redrive(&ctx, redrive, &redriven).ok());
  }
  EXPECT_EQ(redriven.redriven(), 1u);
  const auto redriven_events = events.Wait(key, "PENDING", 2, 20s);
  ASSERT_EQ(redriven_events.size(), 2u);
  EXPECT_EQ(redriven_events[1]["attempt"], 0);
  EXPECT_EQ(GetRecord(*stub, "raw", key)->state(), files::v1::PENDING);

  t.service->process->Signal(SIGTERM);
  EXPECT_EQ(t.service->process->Wait(30s), 0);
  s3c.DeleteObject(s3::BucketName("raw"), s3::ObjectKey(key));
}

// Redis away: /readyz is 503 and gRPC health NOT_SERVING (so clients and load balancers stay off),
// while /healthz stays 200 (liveness: no restart for a dependency's outage). A Redis started on that
// port later turns both back.
TEST(StateTrackerService, GrpcHealthFollowsRedisReachability) {
  const int redis_port = testing::FreePort();
  auto env = SharedEnv();
  env["REDIS_URL"] = "redis://127.0.0.1:" + std::to_string(redis_port) + "/0";
  env["STATE_REDIS_PREFIX"] = UniqueName("health:{files}") + ":";
  env["STATE_CONSUMER_GROUP"] = UniqueName("tracker-health");
  env["STATE_SWEEP_INTERVAL"] = "200ms";
  Service svc(RAINBOW_TRACKER_BIN, env);
  const std::string ops = "http://127.0.0.1:" + std::to_string(svc.http_port);
  const std::string name = "rainbow.files.v1.FileStateService";
  EXPECT_EQ(svc.WaitGrpcHealth("", "NOT_SERVING"), "NOT_SERVING") << svc.Logs();
  EXPECT_EQ(svc.WaitGrpcHealth(name, "NOT_SERVING"), "NOT_SERVING");
  EXPECT_EQ(testing::HttpGet(ops + "/readyz").first, 503);
  EXPECT_EQ(testing::HttpGet(ops + "/healthz").first, 200);

  const std::string dir = ::testing::TempDir() + "/" + UniqueName("health-redis");
  std::filesystem::create_directories(dir);
  testing::ChildProcess redis("/usr/bin/redis-server",
                              {"--bind", "127.0.0.1", "--port", std::to_string(redis_port), "--save", "",
                               "--appendonly", "yes", "--appendfsync", "always", "--dir", dir},
                              {});
  ASSERT_TRUE(svc.WaitReady(30s)) << svc.Logs() << redis.Stdout();
  EXPECT_EQ(svc.WaitGrpcHealth(""), "SERVING");
  EXPECT_EQ(svc.WaitGrpcHealth(name), "SERVING");
  redis.Signal(SIGTERM);
  redis.Wait(10s);
}

TEST(StateTrackerService, PoisonMessagesGoToTheDlqAndConsumptionContinues) {
  // A private events topic (not the MinIO one), so the test controls exactly what is on it.
  const std::string topic = UniqueName("files.events.test");
  const std::string dir = UniqueName("poison");
  auto env = SharedEnv();
  env["STATE_REDIS_PREFIX"] = UniqueName("poison:{files}") + ":";
  env["STATE_EVENTS_TOPIC"] = topic;
  env["STATE_CONSUMER_GROUP"] = UniqueName("tracker-poison");
  kafka::Producer producer({StackEnv("KAFKA_BROKERS"), "poison-test"});
  // Produce first (auto-creates the topic), then start the tracker reading from the beginning.
  for (const char* bad : {"not json", R"({"Records":[{"eventName":"s3:ObjectCreated:Put"}]})"}) {
    ASSERT_TRUE(producer.ProduceSync({topic, std::string("raw/x"), std::string(bad)}).ok);
  }
  ASSERT_TRUE(producer.ProduceSync({topic, std::string("raw/x"), std::nullopt}).ok);  // tombstone
  const std::string good =
      R"({"EventName":"s3:ObjectCreated:Put","Key":"raw/)" + dir +
      R"(/ok.json","Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":")" +
      dir + R"(%2Fok.json","size":3,"eTag":"abc"}}}]})";
  ASSERT_TRUE(producer.ProduceSync({topic, std::string("raw/" + dir + "/ok.json"), good}).ok);

  Service svc(RAINBOW_TRACKER_BIN, env);
  ASSERT_TRUE(svc.WaitReady()) << svc.Logs();
  auto stub = TrackerStub(svc.grpc_addr());
  auto rec = WaitForState(*stub, "raw", dir + "/ok.json", files::v1::PENDING, 60s);
  ASSERT_TRUE(rec.has_value()) << svc.Logs();
  EXPECT_EQ(rec->file().etag(), "abc");

  kafka::Consumer dlq({StackEnv("KAFKA_BROKERS"), UniqueName("dlq-reader"), {topic + ".dlq"}});
  std::vector<kafka::ConsumedMessage> dead;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (dead.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    if (auto m = dlq.Poll(500ms)) dead.push_back(std::move(*m));
  }
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[0].value, "not json");
  EXPECT_EQ(dead[0].HeaderValue("dlq.error"), "value is not JSON");
  EXPECT_EQ(dead[0].HeaderValue("dlq.service"), "state-tracker");
  EXPECT_NE(dead[1].HeaderValue("dlq.error").value_or("").find("has no \"s3\""), std::string::npos);
  EXPECT_FALSE(dead[2].value.has_value());
  EXPECT_NE(svc.Metrics().find("state_notifications_total{result=\"dead_lettered\"} 3"), std::string::npos);
}

TEST(StateTrackerService, SweeperReturnsExpiredLeasesAndReportsTerminalFailure) {
  const std::string dir = UniqueName("sweep");
  StateEvents events(dir + "/");
  Tracker t(UniqueName("sweep:{files}") + ":", "none/");
  ASSERT_TRUE(t.service->WaitReady()) << t.service->Logs();
  auto stub = TrackerStub(t.service->grpc_addr());
  const std::string key = dir + "/s.json";
  files::v1::RegisterRequest reg;
  reg.mutable_file()->set_bucket("raw");
  reg.mutable_file()->set_key(key);
  reg.mutable_file()->set_etag("e1");
  files::v1::RegisterResponse rr;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Register(&ctx, reg, &rr).ok());
  }
  EXPECT_TRUE(rr.created());
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Register(&ctx, reg, &rr).ok());
  }
  EXPECT_FALSE(rr.created());
  // STATE_MAX_ATTEMPTS=2: two claims whose leases expire -> PENDING, then terminally FAILED.
  for (int i = 0; i < 2; ++i) {
    files::v1::ClaimRequest claim;
    claim.set_worker_id("w");
    claim.set_lease_ms(100);
    files::v1::ClaimResponse cr;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (cr.files_size() == 0 && std::chrono::steady_clock::now() < deadline) {
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub->Claim(&ctx, claim, &cr).ok());
      if (cr.files_size() == 0) std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(cr.files_size(), 1) << "claim " << i;
    auto want = i == 0 ? files::v1::PENDING : files::v1::FAILED;
    ASSERT_TRUE(WaitForState(*stub, "raw", key, want, 10s).has_value());
  }
  auto rec = WaitForState(*stub, "raw", key, files::v1::FAILED, 1s);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->state(), files::v1::FAILED);
  EXPECT_NE(rec->error().find("no attempts left"), std::string::npos);
  auto failed = events.Wait(key, "FAILED", 1, 20s);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["attempt"], 2);
  EXPECT_EQ(events.Wait(key, "PENDING", 2, 20s).size(), 2u);  // registered + returned by the sweeper
  EXPECT_NE(t.service->Metrics().find("state_lease_expiries_total 2"), std::string::npos);
}

TEST(StateTrackerService, TransitionsCommittedWhileNoTrackerRanArePublishedFromTheOutbox) {
  // The transition scripts write their files.state event into a Redis stream in the same script; a
  // tracker that dies before publishing loses nothing: the next relay publishes it.
  const std::string dir = UniqueName("outbox");
  const std::string prefix = UniqueName("outbox:{files}") + ":";
  StateEvents events(dir + "/");
  const std::string key = dir + "/a.json";
  {
    state::RedisPool pool({StackEnv("REDIS_URL")}, 1);
    state::StoreOptions o;
    o.prefix = prefix;
    state::StateStore store(pool, o);
    store.Register("raw", key, "e1", 7);
    ASSERT_EQ(store.Claim("w", 1, std::chrono::minutes(1)).size(), 1u);
    store.Complete("raw", key, "w", 1, dir + "/a.xml", "abc");
  }
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(events.Events().empty()) << "published without a tracker?";
  Tracker t(prefix, "none/");
  ASSERT_TRUE(t.service->WaitReady()) << t.service->Logs();
  const auto done = events.Wait(key, "COMPLETED", 1, 30s);
  ASSERT_EQ(done.size(), 1u) << t.service->Logs();
  EXPECT_EQ(done[0]["etag"], "e1");
  EXPECT_EQ(done[0]["attempt"], 1);
  std::this_thread::sleep_for(1s);
  const auto all = events.Events();
  ASSERT_EQ(all.size(), 3u);  // each exactly once, in order
  EXPECT_EQ(all[0]["state"], "PENDING");
  EXPECT_EQ(all[1]["state"], "IN_PROGRESS");
  EXPECT_EQ(all[2]["state"], "COMPLETED");
  // Acknowledged entries are deleted from the outbox.
  redis::Client redis({StackEnv("REDIS_URL")});
  EXPECT_EQ(redis.Command({"XLEN", prefix + "outbox"}).integer, 0);
}

TEST(StateTrackerService, RedriveMovesFailedFilesBackToPendingWithAttemptsReset) {
  const std::string dir = UniqueName("redrive");
  Tracker t(UniqueName("redrive:{files}") + ":", "none/");
  ASSERT_TRUE(t.service->WaitReady()) << t.service->Logs();
  auto stub = TrackerStub(t.service->grpc_addr());
  const std::vector<std::string> keys = {dir + "/x/a", dir + "/x/b", dir + "/y/c"};
  for (const auto& key : keys) {
    files::v1::RegisterRequest reg;
    reg.mutable_file()->set_bucket("raw");
    reg.mutable_file()->set_key(key);
    reg.mutable_file()->set_etag("e");
    files::v1::RegisterResponse rr;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Register(&ctx, reg, &rr).ok());
  }
  files::v1::ClaimRequest claim;
  claim.set_worker_id("w");
  claim.set_max_files(10);
  files::v1::ClaimResponse claimed;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Claim(&ctx, claim, &claimed).ok());
  }
  ASSERT_EQ(claimed.files_size(), 3);
  for (const auto& f : claimed.files()) {
    files::v1::FailRequest fail;
    *fail.mutable_file() = f.file();
    fail.set_worker_id("w");
    fail.set_attempt(f.attempts());
    fail.set_error("bad input");
    files::v1::FailResponse failed;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Fail(&ctx, fail, &failed).ok());
    ASSERT_EQ(failed.record().state(), files::v1::FAILED);
  }
  auto redrive = [&](const std::string& bucket, const std::string& key, const std::string& prefix,
                     uint64_t* n) {
    files::v1::RedriveRequest req;
    req.set_bucket(bucket);
    req.set_key(key);
    req.set_key_prefix(prefix);
    files::v1::RedriveResponse resp;
    grpc::ClientContext ctx;
    const auto status = stub->Redrive(&ctx, req, &resp);
    *n = resp.redriven();
    return status.error_code();
  };
  uint64_t n = 0;
  EXPECT_EQ(redrive("", keys[0], "", &n), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_EQ(redrive("raw", keys[0], "", &n), grpc::StatusCode::OK);
  EXPECT_EQ(n, 1u);
  ASSERT_EQ(redrive("raw", "", dir + "/x/", &n), grpc::StatusCode::OK);
  EXPECT_EQ(n, 1u);  // x/b; x/a is PENDING already
  for (int i = 0; i < 2; ++i) {
    auto rec = GetRecord(*stub, "raw", keys[i]);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state(), files::v1::PENDING);
    EXPECT_EQ(rec->attempts(), 0u);
    EXPECT_EQ(rec->error(), "");
    EXPECT_EQ(rec->history(0).error(), "redriven");
  }
  EXPECT_EQ(GetRecord(*stub, "raw", keys[2])->state(), files::v1::FAILED);
  ASSERT_EQ(redrive("", "", "", &n), grpc::StatusCode::OK);  // all
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(GetRecord(*stub, "raw", keys[2])->state(), files::v1::PENDING);
  // Claimable again, as attempt 1.
  files::v1::ClaimResponse again;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Claim(&ctx, claim, &again).ok());
  }
  ASSERT_EQ(again.files_size(), 3);
  EXPECT_EQ(again.files(0).attempts(), 1u);
}

}  // namespace
}  // namespace rainbow
