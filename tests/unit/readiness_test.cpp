// ops::Readiness: named conditions in order, draining first, flips told once each.
#include "common/ops/readiness.hpp"

#include "common/ops/metrics.hpp"
#include "common/ops/ops_http_server.hpp"
#include "tests/support/child_process.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace rainbow::ops {
namespace {

TEST(Readiness, FirstUnmetConditionInOrderGivesTheReason) {
  Readiness r;
  std::string polled = "database: down";
  r.AddCheck("database", [&] { return polled; });
  r.AddCondition("listening", "starting: not listening");
  EXPECT_EQ(r.NotReadyReason(), "database: down");
  polled.clear();
  EXPECT_EQ(r.NotReadyReason(), "starting: not listening");
  r.Set("listening");
  EXPECT_EQ(r.NotReadyReason(), "");
  r.Set("listening", "lost the port");
  EXPECT_EQ(r.NotReadyReason(), "lost the port");
  EXPECT_THROW(r.Set("nonexistent"), std::invalid_argument);
}

TEST(Readiness, DrainingWinsOverEveryCondition) {
  Readiness r;
  r.AddCondition("consumer", "starting");
  r.Set("consumer");
  EXPECT_FALSE(r.draining());
  r.SetDraining();
  EXPECT_TRUE(r.draining());
  EXPECT_EQ(r.NotReadyReason(), "shutting down");
}

TEST(Readiness, ACheckThatThrowsIsNotReady) {
  Readiness r;
  r.AddCheck("redis", []() -> std::string { throw std::runtime_error("boom"); });
  EXPECT_EQ(r.NotReadyReason(), "redis: boom");
}

TEST(Readiness, OnChangeIsToldEachFlipOnce) {
  Readiness r;
  r.AddCondition("a", "starting");
  std::vector<bool> seen;
  r.OnChange([&](bool ready) { seen.push_back(ready); });
  r.Set("a");
  r.Set("a");  // no flip
  r.SetDraining();
  EXPECT_EQ(seen, (std::vector<bool>{false, true, false}));
}

// /metrics carries service_ready, following what /readyz says at each scrape.
TEST(Readiness, MetricsExposeServiceReady) {
  Readiness r;
  r.AddCondition("database", "database: unreachable");
  OpsHttpServer server("127.0.0.1:0", MetricsRegistry(), r);
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto [status, body] = testing::HttpGet(base + "/metrics");
  ASSERT_EQ(status, 200);
  EXPECT_NE(body.find("\nservice_ready 0\n"), std::string::npos) << body;
  const auto readyz = testing::HttpGet(base + "/readyz");
  EXPECT_EQ(readyz.first, 503);
  // The failing part by name, not its error text (which may name hosts or users).
  EXPECT_EQ(readyz.second, R"({"failing":["database"],"status":"not ready"})");
  r.Set("database");
  std::tie(status, body) = testing::HttpGet(base + "/metrics");
  EXPECT_NE(body.find("\nservice_ready 1\n"), std::string::npos) << body;
  EXPECT_EQ(testing::HttpGet(base + "/readyz").first, 200);
}

TEST(Readiness, FailingComponentsNamesEveryUnmetCondition) {
  Readiness r;
  r.AddCondition("a", "a: down");
  r.AddCheck("b", [] { return std::string(); });
  r.AddCheck("c", []() -> std::string { throw std::runtime_error("password=hunter2 rejected"); });
  EXPECT_EQ(r.FailingComponents(), (std::vector<std::string>{"a", "c"}));
  r.Set("a");
  EXPECT_EQ(r.FailingComponents(), (std::vector<std::string>{"c"}));
  r.SetDraining();
  EXPECT_EQ(r.FailingComponents(), (std::vector<std::string>{"draining"}));
}

}  // namespace
}  // namespace rainbow::ops
