// common/redis against the real Redis (AOF on) of the test stack.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "common/redis/client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/stack_env.hpp"
#include "tests/support/test_pki.hpp"

namespace rainbow::redis {
namespace {

using rainbow::testing::StackEnv;
using rainbow::testing::UniqueName;

// Moves a value between two keys atomically and returns the new length of the destination list: a
// script with keys, args and a typed reply, like the state-tracker's transitions.
const Script kMoveScript(R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return redis.error_reply('NOT_FOUND ' .. KEYS[1]) end
redis.call('DEL', KEYS[1])
return redis.call('RPUSH', KEYS[2], v .. ARGV[1])
)lua");

RedisConfig Config() {
  RedisConfig c;
  c.url = StackEnv("REDIS_URL");
  c.reconnect_budget = std::chrono::milliseconds(30'000);
  return c;
}

TEST(RedisClient, EvalShaScriptRoundTrip) {
  Client client(Config());
  const std::string src = UniqueName("src");
  const std::string dst = UniqueName("dst");
  client.Command({"SET", src, "hello"});
  client.Command({"SCRIPT", "FLUSH"});  // forces the NOSCRIPT -> SCRIPT LOAD path
  const Reply r = client.Eval(kMoveScript, {src, dst}, {"-world"});
  EXPECT_EQ(r.type, Reply::Type::kInteger);
  EXPECT_EQ(r.integer, 1);
  EXPECT_EQ(client.Command({"LINDEX", dst, "0"}).str, "hello-world");
  EXPECT_TRUE(client.Command({"GET", src}).IsNil());
  // Second call goes straight through EVALSHA; the script's error reply surfaces as an error.
  try {
    client.Eval(kMoveScript, {src, dst}, {"x"});
    FAIL();
  } catch (const RedisError& e) {
    EXPECT_FALSE(e.connection());
    EXPECT_NE(std::string(e.what()).find("NOT_FOUND"), std::string::npos) << e.what();
  }
  client.Command({"DEL", dst});
}

TEST(RedisClient, ReconnectsAfterShutdownAndRestartKeepingDataByAof) {
  Client client(Config());
  const std::string key = UniqueName("durable");
  client.Command({"SET", key, "kept"});
  ASSERT_EQ(client.Command({"CONFIG", "GET", "appendonly"}).elements.at(1).str, "yes");

  const auto [rc, out] =
      rainbow::testing::RunShell("redis-cli -h 127.0.0.1 -p " + StackEnv("REDIS_PORT") + " shutdown");
  ASSERT_EQ(rc, 0) << out;
  // The server is gone: a call now fails as a connection error (not resent blindly).
  EXPECT_THROW(client.Command({"GET", key}), RedisError);
  ASSERT_EQ(rainbow::testing::StackCommand("up redis"), 0);

  const Reply after = client.Command({"GET", key});  // reconnects lazily
  EXPECT_EQ(after.str, "kept");
  const Reply script = client.Eval(Script("return ARGV[1]"), {}, {"back"});  // script cache is empty again
  EXPECT_EQ(script.str, "back");
  client.Command({"DEL", key});
}

TEST(RedisClient, UnreachableServerIsAConnectionErrorWithinTheBudget) {
  RedisConfig c;
  c.url = "redis://127.0.0.1:" + std::to_string(rainbow::testing::FreePort()) + "/0";
  c.reconnect_budget = std::chrono::milliseconds(500);
  Client client(c);
  try {
    client.Command({"PING"});
    FAIL();
  } catch (const RedisError& e) {
    EXPECT_TRUE(e.connection());
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
}

TEST(RedisClient, PipelineReturnsErrorRepliesInPlace) {
  Client client(Config());
  const std::string key = UniqueName("pl");
  const auto replies = client.Pipeline({{"SET", key, "v"}, {"INCR", key}, {"GET", key}, {"DEL", key}});
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0].str, "OK");
  EXPECT_EQ(replies[1].type, Reply::Type::kError);
  EXPECT_EQ(replies[2].str, "v");
  EXPECT_EQ(replies[3].integer, 1);
}

// rediss:// against a real Redis with TLS only (no plaintext port) and an ACL user: commands and
// scripts work through the TLS tunnel; a wrong CA, a wrong password and a
// plaintext client are each refused, and no error names the password.
TEST(RedisClient, TlsWithAnAclUser) {
  testing::TestPki pki;
  const auto ca = pki.MakeCa("redis-ca");
  const auto other_ca = pki.MakeCa("other-ca");
  const auto server = pki.MakeLeaf(ca, "redis-server", "localhost");
  const int port = testing::FreePort();
  const std::string password = "acl-" + UniqueName("pw");
  testing::ChildProcess redis("/usr/bin/redis-server",
                              {"--bind",
                               "127.0.0.1",
                               "--port",
                               "0",
                               "--tls-port",
                               std::to_string(port),
                               "--tls-cert-file",
                               server.cert,
                               "--tls-key-file",
                               server.key,
                               "--tls-ca-cert-file",
                               ca.cert,
                               "--tls-auth-clients",
                               "no",
                               "--save",
                               "",
                               "--appendonly",
                               "no",
                               "--dir",
                               pki.dir(),
                               "--user",
                               "default",
                               "off",
                               "--user",
                               "tracker",
                               "on",
                               ">" + password,
                               "~*",
                               "&*",
                               "+@all"},
                              std::map<std::string, std::string>{});
  RedisConfig c;
  c.url = "rediss://tracker:" + password + "@localhost:" + std::to_string(port) + "/0";
  c.ca_file = ca.cert;
  c.reconnect_budget = std::chrono::milliseconds(10'000);
  Client client(c);
  const std::string key = UniqueName("tls");
  ASSERT_EQ(client.Command({"SET", key, std::string(100'000, 'x')}).str, "OK");  // larger than one TLS record
  EXPECT_EQ(client.Command({"GET", key}).str.size(), 100'000u);
  EXPECT_EQ(client.Eval(kMoveScript, {key, key + ":dst"}, {"!"}).integer, 1);

  const auto refused = [&](RedisConfig bad, const char* what) {
    bad.reconnect_budget = std::chrono::milliseconds(500);
    try {
      Client(bad).Command({"PING"});
      ADD_FAILURE() << what << ": PING answered";
    } catch (const RedisError& e) {
      EXPECT_EQ(std::string(e.what()).find(password), std::string::npos) << e.what();
      return std::string(e.what());
    }
    return std::string();
  };
  RedisConfig wrong_ca = c;
  wrong_ca.ca_file = other_ca.cert;
  EXPECT_NE(refused(wrong_ca, "wrong CA").find("certificate"), std::string::npos);
  RedisConfig wrong_password = c;
  wrong_password.url = "rediss://tracker:not-" + password + "@localhost:" + std::to_string(port) + "/0";
  refused(wrong_password, "wrong password");
  RedisConfig plaintext = c;
  plaintext.url = "redis://tracker:" + password + "@localhost:" + std::to_string(port) + "/0";
  refused(plaintext, "plaintext");
}

}  // namespace
}  // namespace rainbow::redis
