// The shared service bootstrap, checked on a real process (tests/support/probe_server.cpp): gRPC
// health and reflection answer, /metrics passes `promtool check metrics`, SIGTERM drains and exits 0,
// and a missing required env var exits non-zero naming the var.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <thread>

#include "rainbow/cdc_producer.grpc.pb.h"
#include "tests/support/child_process.hpp"
#include "tests/support/grpc_probes.hpp"

namespace rainbow::testing {
namespace {

using namespace std::chrono_literals;

class ProbeServer : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc_port_ = FreePort();
    http_port_ = FreePort();
    child_ = std::make_unique<ChildProcess>(PROBE_SERVER_PATH, std::vector<std::string>{},
                                            std::map<std::string, std::string>{
                                                {"GRPC_ADDR", "127.0.0.1:" + std::to_string(grpc_port_)},
                                                {"HTTP_ADDR", "127.0.0.1:" + std::to_string(http_port_)},
                                                {"PROBE_TOKEN", "t0ken"},
                                                {"PROBE_DRAIN", "1s"},
                                                {"PROBE_NOT_READY_FILE", not_ready_file_},
                                            });
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel_->WaitForConnected(std::chrono::system_clock::now() + 20s))
        << "probe server did not come up; stderr: " << child_->Stderr() << " stdout: " << child_->Stdout();
  }

  ~ProbeServer() override { std::filesystem::remove(not_ready_file_); }

  // Whether gRPC health of `service` comes to say `want` (the probe re-reads readiness every 100 ms).
  bool HealthBecomes(const std::string& service, const std::string& want) {
    return HealthStatusOnceIs(channel_, service, want) == want;
  }

  std::string not_ready_file_ = ::testing::TempDir() + "/probe-not-ready-" + std::to_string(::getpid()) +
                                "-" + std::to_string(FreePort());
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::unique_ptr<ChildProcess> child_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ProbeServer, AnswersTheHealthProtocol) { EXPECT_TRUE(testing::HealthServing(channel_)); }

TEST_F(ProbeServer, ListsServicesAndDescriptorsByReflection) {
  const auto got = testing::Reflect(channel_, "rainbow.cdc.v1.CdcStatusService");
  EXPECT_TRUE(got.services.count("rainbow.cdc.v1.CdcStatusService"));
  EXPECT_TRUE(got.services.count("grpc.health.v1.Health"));
  ASSERT_FALSE(got.files_for_symbol.empty());
  EXPECT_NE(got.files_for_symbol.front().find("rainbow/cdc_producer.proto"), std::string::npos);
}

// grpc++'s default health service is listed by reflection; its descriptors must be there too, or
// grpcurl can list it but neither describe nor call it.
TEST_F(ProbeServer, DescribesTheHealthServiceByReflection) {
  const auto got = testing::Reflect(channel_, "grpc.health.v1.Health");
  ASSERT_FALSE(got.files_for_symbol.empty());
  EXPECT_NE(got.files_for_symbol.front().find("grpc/health/v1/health.proto"), std::string::npos);
}

TEST_F(ProbeServer, ServesMetricsThatPromtoolAccepts) {
  const auto [status, body] = HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/metrics");
  ASSERT_EQ(status, 200);
  EXPECT_NE(body.find("probe_starts_total 1"), std::string::npos) << body;
  EXPECT_NE(body.find("process_resident_memory_bytes"), std::string::npos) << body;
  const auto [rc, out] = RunShell("promtool check metrics", body);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/healthz").first, 200);
  EXPECT_EQ(HttpGet("http://127.0.0.1:" + std::to_string(http_port_) + "/readyz").first, 200);
}

// gRPC health follows readiness, for the server and for each registered service: a client or load
// balancer probing gRPC learns what /readyz says, and /healthz (liveness) stays 200 throughout.
TEST_F(ProbeServer, GrpcHealthFollowsReadiness) {
  const std::string service = "rainbow.cdc.v1.CdcStatusService";
  const std::string http = "http://127.0.0.1:" + std::to_string(http_port_);
  ASSERT_TRUE(HealthBecomes("", "SERVING"));
  EXPECT_EQ(HealthStatus(channel_, service), "SERVING");
  { std::ofstream(not_ready_file_) << "down"; }
  EXPECT_TRUE(HealthBecomes("", "NOT_SERVING"));
  EXPECT_TRUE(HealthBecomes(service, "NOT_SERVING"));
  EXPECT_EQ(HttpGet(http + "/readyz").first, 503);
  EXPECT_EQ(HttpGet(http + "/healthz").first, 200);
  std::filesystem::remove(not_ready_file_);
  EXPECT_TRUE(HealthBecomes("", "SERVING"));
  EXPECT_TRUE(HealthBecomes(service, "SERVING"));
  EXPECT_EQ(HttpGet(http + "/readyz").first, 200);
}

TEST_F(ProbeServer, SigtermDrainsAndExitsZero) {
  child_->Signal(SIGTERM);
  const auto code = child_->Wait(15s);
  ASSERT_TRUE(code.has_value()) << "probe server ignored SIGTERM";
  EXPECT_EQ(*code, 0) << child_->Stdout() << child_->Stderr();
  EXPECT_NE(child_->Stdout().find("\"msg\":\"draining\""), std::string::npos) << child_->Stdout();
}

// GRPC_MAX_THREADS bounds the threads synchronous calls run on: a flood of slow calls gets
// RESOURCE_EXHAUSTED at once for what does not fit, the rest are served, and once they are done the
// server takes calls again.
TEST(ProbeServerLimits, CallsBeyondTheThreadLimitAreResourceExhaustedAtOnce) {
  const int grpc_port = FreePort();
  ChildProcess child(PROBE_SERVER_PATH, {},
                     {{"GRPC_ADDR", "127.0.0.1:" + std::to_string(grpc_port)},
                      {"HTTP_ADDR", "127.0.0.1:" + std::to_string(FreePort())},
                      {"PROBE_TOKEN", "t0ken"},
                      {"PROBE_CALL_DELAY", "2s"},
                      {"GRPC_MAX_THREADS", "6"}});
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + 20s)) << child.Stderr();
  auto stub = cdc::v1::CdcStatusService::NewStub(channel);
  constexpr int kCalls = 24;
  std::vector<grpc::StatusCode> codes(kCalls);
  std::vector<double> seconds(kCalls);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 30s);
      cdc::v1::Status out;
      const auto t0 = std::chrono::steady_clock::now();
      codes[i] = stub->GetStatus(&ctx, {}, &out).error_code();
      seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  }
  for (auto& t : callers) t.join();
  int ok = 0, exhausted = 0;
  for (int i = 0; i < kCalls; ++i) {
    if (codes[i] == grpc::StatusCode::OK) ++ok;
    if (codes[i] == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_LT(seconds[i], 1.0) << "a refused call must not wait for a thread";
    }
  }
  EXPECT_EQ(ok + exhausted, kCalls) << "every call is served or refused as exhausted";
  EXPECT_GE(ok, 1);
  EXPECT_LE(ok, 6) << "more calls ran at once than the threads allowed";
  EXPECT_GE(exhausted, kCalls - 6);
  grpc::ClientContext ctx;
  cdc::v1::Status out;
  EXPECT_TRUE(stub->GetStatus(&ctx, {}, &out).ok()) << "calls are taken again once the flood is served";
}

TEST(ProbeServerConfig, MissingRequiredVarExitsNonZeroNamingIt) {
  ChildProcess child(PROBE_SERVER_PATH, {},
                     {{"GRPC_ADDR", "127.0.0.1:" + std::to_string(FreePort())},
                      {"HTTP_ADDR", "127.0.0.1:" + std::to_string(FreePort())}});
  const auto code = child.Wait(15s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(child.Stderr().find("PROBE_TOKEN"), std::string::npos) << child.Stderr();
  EXPECT_NE(child.Stdout().find("\"var\":\"PROBE_TOKEN\""), std::string::npos) << child.Stdout();
}

TEST(ProbeServerConfig, InvalidValueExitsNonZeroNamingTheVar) {
  ChildProcess child(PROBE_SERVER_PATH, {}, {{"PROBE_TOKEN", "x"}, {"PROBE_DRAIN", "soon"}});
  const auto code = child.Wait(15s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(child.Stderr().find("PROBE_DRAIN"), std::string::npos) << child.Stderr();
}

// Every service reads HTTP_ADDR through ops::LoadCommonConfig: a malformed one is a config error (exit
// 2 naming the var), not a failure at run time.
TEST(ProbeServerConfig, InvalidHttpAddrExits2NamingTheVar) {
  for (const char* addr : {"no-port", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:80x"}) {
    ChildProcess child(PROBE_SERVER_PATH, {}, {{"PROBE_TOKEN", "x"}, {"HTTP_ADDR", addr}});
    const auto code = child.Wait(15s);
    ASSERT_TRUE(code.has_value()) << addr;
    EXPECT_EQ(*code, 2) << addr;
    EXPECT_NE(child.Stderr().find("HTTP_ADDR"), std::string::npos) << child.Stderr();
  }
}

TEST(ProbeServerConfig, InvalidDrainTimeoutExits2) {
  ChildProcess child(PROBE_SERVER_PATH, {}, {{"PROBE_TOKEN", "x"}, {"DRAIN_TIMEOUT", "soon"}});
  const auto code = child.Wait(15s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(child.Stderr().find("DRAIN_TIMEOUT"), std::string::npos) << child.Stderr();
}

TEST(ProbeServerConfig, HelpListsTheEnvVars) {
  ChildProcess child(PROBE_SERVER_PATH, {"--help"}, {});
  ASSERT_EQ(child.Wait(15s), 0);
  const auto out = child.Stdout();
  for (const char* var :
       {"GRPC_ADDR", "HTTP_ADDR", "LOG_LEVEL", "DRAIN_TIMEOUT", "PROBE_TOKEN", "PROBE_DRAIN"}) {
    EXPECT_NE(out.find(var), std::string::npos) << var << " missing from --help:\n" << out;
  }
}

}  // namespace
}  // namespace rainbow::testing
