// state-tracker's PipelinedClient against the real Redis of the test stack.
#include "services/state-tracker/src/redis_pipeline.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "tests/support/stack_env.hpp"

namespace rainbow::state {
namespace {

using rainbow::testing::StackEnv;
using rainbow::testing::UniqueName;
using redis::RedisConfig;
using redis::RedisError;
using redis::Reply;
using redis::Script;

// Moves a value between two keys atomically: a script with keys, args and a typed reply.
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

TEST(RedisPipelinedClient, ConcurrentCallersShareConnectionsAndKeepTheirOrder) {
  PipelinedClient client(Config(), 2);
  const Script incr("return redis.call('INCR', KEYS[1])");
  client.Command({"SCRIPT", "FLUSH"}, PipelinedClient::Resend::kNever);  // NOSCRIPT -> load, in a batch
  const std::string prefix = UniqueName("pipe");
  // 8 threads, blocking calls: each sees its own key count up in order.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = prefix + ":" + std::to_string(t);
      for (int i = 1; i <= 200; ++i) {
        if (client.Eval(incr, {key}, {}, PipelinedClient::Resend::kOnce).integer != i) ++wrong;
      }
    });
  }
  // Meanwhile 500 asynchronous calls from this thread, and error replies that fail only their own call.
  std::atomic<int> done{0}, errors{0};
  std::promise<void> all;
  for (int i = 0; i < 500; ++i) {
    client.EvalAsync(incr, {prefix + ":async"}, {}, PipelinedClient::Resend::kOnce,
                     [&](Reply, std::exception_ptr error) {
                       if (error) ++errors;
                       if (++done == 500) all.set_value();
                     });
  }
  all.get_future().wait();
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(client.Command({"GET", prefix + ":async"}, PipelinedClient::Resend::kNever).str, "500");
  try {
    client.Eval(kMoveScript, {prefix + ":missing", prefix + ":dst"}, {"x"}, PipelinedClient::Resend::kOnce);
    FAIL();
  } catch (const RedisError& e) {
    EXPECT_FALSE(e.connection());
    EXPECT_NE(std::string(e.what()).find("NOT_FOUND"), std::string::npos) << e.what();
  }
  std::vector<std::string> del{"DEL", prefix + ":async"};
  for (int t = 0; t < 8; ++t) del.push_back(prefix + ":" + std::to_string(t));
  client.Command(del, PipelinedClient::Resend::kNever);
}

}  // namespace
}  // namespace rainbow::state
