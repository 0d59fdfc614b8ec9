#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/logging/log.hpp"

namespace rainbow::log {
namespace {

TEST(LogFormat, PlainMessageIsEscapedJson) {
  const auto line = FormatLine("2026-01-01T00:00:00.000Z", "info", "svc", "say \"hi\"\n\tbye");
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["msg"], "say \"hi\"\n\tbye");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["service"], "svc");
  EXPECT_EQ(j["ts"], "2026-01-01T00:00:00.000Z");
}

TEST(LogFormat, StructuredFieldsAreMergedIntoTheLine) {
  std::string payload = "\x1f";
  payload += nlohmann::json{{"msg", "order created"}, {"order_id", 42}, {"lsn", "0/16B3748"}}.dump();
  const auto j = nlohmann::json::parse(FormatLine("t", "warning", "order-api", payload));
  EXPECT_EQ(j["msg"], "order created");
  EXPECT_EQ(j["order_id"], 42);
  EXPECT_EQ(j["lsn"], "0/16B3748");
  EXPECT_EQ(j["service"], "order-api");
}

TEST(LogFormat, InvalidUtf8DoesNotBreakTheLine) {
  const auto line = FormatLine("t", "info", "svc", std::string("bad \xff byte"));
  EXPECT_NO_THROW(nlohmann::json::parse(line));
}

}  // namespace
}  // namespace rainbow::log

TEST(LogFormat, EmittedRecordHasMessageFirstThenFields) {
  rainbow::log::Init("svc", "info");
  testing::internal::CaptureStdout();
  rainbow::log::Info("order created", {{"order_id", 7}, {"customer_id", 3}, {"msg", "ignored"}});
  rainbow::log::Info("plain");
  rainbow::log::Debug("below the level");
  const std::string out = testing::internal::GetCapturedStdout();
  const auto newline = out.find('\n');
  ASSERT_NE(newline, std::string::npos);
  const auto first = nlohmann::ordered_json::parse(out.substr(0, newline));
  std::vector<std::string> keys;
  for (auto it = first.begin(); it != first.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "service", "msg", "customer_id", "order_id"}));
  EXPECT_EQ(first["msg"], "order created");
  EXPECT_EQ(first["order_id"], 7);
  const auto second = nlohmann::json::parse(out.substr(newline + 1));
  EXPECT_EQ(second["msg"], "plain");
  EXPECT_EQ(out.find("below the level"), std::string::npos);
}
