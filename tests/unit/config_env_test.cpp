#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "common/config/env.hpp"

namespace rainbow::config {
namespace {

Env FromMap(std::map<std::string, std::string> vars) {
  return Env([vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

TEST(Env, MissingRequiredVarNamesIt) {
  auto env = FromMap({});
  try {
    env.RequireString("PG_DSN", "database");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.var(), "PG_DSN");
    EXPECT_NE(std::string(e.what()).find("PG_DSN"), std::string::npos);
  }
}

TEST(Env, EmptyValueCountsAsUnset) {
  auto env = FromMap({{"KAFKA_BROKERS", ""}});
  EXPECT_THROW(env.RequireString("KAFKA_BROKERS", "brokers"), ConfigError);
  EXPECT_EQ(env.String("KAFKA_BROKERS", "127.0.0.1:9092", "brokers"), "127.0.0.1:9092");
}

TEST(Env, SecretFromFileStripsTrailingNewline) {
  const std::string path = testing::TempDir() + "/secret";
  std::ofstream(path) << "s3cr3t\n";
  auto env = FromMap({{"S3_SECRET_KEY_FILE", path}});
  EXPECT_EQ(env.RequireSecret("S3_SECRET_KEY", "secret"), "s3cr3t");
}

TEST(Env, BothValueAndFileIsAnError) {
  auto env = FromMap({{"S3_SECRET_KEY", "a"}, {"S3_SECRET_KEY_FILE", "/nonexistent"}});
  EXPECT_THROW(env.RequireSecret("S3_SECRET_KEY", "secret"), ConfigError);
}

TEST(Env, UnreadableFileIsAnErrorNamingTheVar) {
  auto env = FromMap({{"S3_SECRET_KEY_FILE", "/nonexistent/secret"}});
  try {
    env.RequireSecret("S3_SECRET_KEY", "secret");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.var(), "S3_SECRET_KEY");
    EXPECT_NE(std::string(e.what()).find("S3_SECRET_KEY_FILE"), std::string::npos);
  }
}

TEST(Env, IntegersAreParsedAndBounded) {
  auto env = FromMap({{"A", "42"}, {"B", "4x"}, {"C", "100000"}});
  EXPECT_EQ(env.Int("A", 1, 0, 100, ""), 42);
  EXPECT_EQ(env.Int("MISSING", 7, 0, 100, ""), 7);
  EXPECT_THROW(env.Int("B", 1, 0, 100, ""), ConfigError);
  EXPECT_THROW(env.Int("C", 1, 0, 100, ""), ConfigError);
}

TEST(Env, DurationsAcceptUnits) {
  auto env = FromMap({{"A", "250ms"}, {"B", "5s"}, {"C", "2m"}, {"D", "1500"}, {"E", "5 s"}, {"F", "s"}});
  using std::chrono::milliseconds;
  EXPECT_EQ(env.Duration("A", milliseconds(1), ""), milliseconds(250));
  EXPECT_EQ(env.Duration("B", milliseconds(1), ""), milliseconds(5000));
  EXPECT_EQ(env.Duration("C", milliseconds(1), ""), milliseconds(120000));
  EXPECT_EQ(env.Duration("D", milliseconds(1), ""), milliseconds(1500));
  EXPECT_THROW(env.Duration("E", milliseconds(1), ""), ConfigError);
  EXPECT_THROW(env.Duration("F", milliseconds(1), ""), ConfigError);
}

TEST(Env, BooleansAndChoices) {
  auto env = FromMap({{"A", "on"}, {"B", "No"}, {"C", "maybe"}, {"MODE", "never"}, {"BAD", "sometimes"}});
  EXPECT_TRUE(env.Bool("A", false, ""));
  EXPECT_FALSE(env.Bool("B", true, ""));
  EXPECT_THROW(env.Bool("C", true, ""), ConfigError);
  EXPECT_EQ(env.Choice("MODE", "initial", {"initial", "never", "always"}, ""), "never");
  EXPECT_THROW(env.Choice("BAD", "initial", {"initial", "never", "always"}, ""), ConfigError);
}

TEST(Env, DescribeModeRecordsEveryVarWithoutFailing) {
  auto env = Env::Describe();
  env.RequireString("PG_DSN", "database");
  env.Int("POOL", 8, 1, 64, "pool size");
  ASSERT_EQ(env.docs().size(), 2u);
  const auto help = FormatHelp("svc", "does things", env.docs());
  EXPECT_NE(help.find("PG_DSN"), std::string::npos);
  EXPECT_NE(help.find("[required]"), std::string::npos);
  EXPECT_NE(help.find("[default: 8]"), std::string::npos);
}

}  // namespace
}  // namespace rainbow::config
