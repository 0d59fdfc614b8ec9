// The files.state relay under faults, in process (so the test can be built and run under ASan): Kafka
// frozen (SIGSTOP) for longer than the producer's message timeout, so delivery reports arrive after the
// batch's flush gave up; and Redis flushed under the relay (its consumer group gone: NOGROUP).
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "common/kafka/producer.hpp"
#include "common/redis/client.hpp"
#include "services/state-tracker/src/event_relay.hpp"
#include "services/state-tracker/src/state_store.hpp"
#include "tests/support/files_stack.hpp"

namespace rainbow {
namespace {

using namespace files_test;
using testing::UniqueName;

pid_t StackPid(const std::string& component) {
  std::ifstream f(StackEnv("RAINBOW_STACK_DIR") + "/" + component + ".pid");
  pid_t pid = 0;
  f >> pid;
  return pid;
}

TEST(StateRelayFaults, KafkaFrozenLongerThanTheMessageTimeoutLosesNothingAndFreesNothingInUse) {
  const std::string dir = UniqueName("relay-freeze");
  const std::string prefix = UniqueName("relay-freeze:{files}") + ":";
  StateEvents events(dir + "/");
  state::RedisPool pool({StackEnv("REDIS_URL")}, 1);
  state::StoreOptions o;
  o.prefix = prefix;
  state::StateStore store(pool, o);
  constexpr int kFiles = 50;
  for (int i = 0; i < kFiles; ++i) store.Register("raw", dir + "/" + std::to_string(i), "e", 1);

  kafka::ProducerConfig pc{StackEnv("KAFKA_BROKERS"), "relay-freeze"};
  pc.message_timeout = 2s;
  kafka::Producer producer(pc);
  ASSERT_TRUE(producer.ProduceSync({"files.state", std::string("warm-up"), std::string("{}")}).ok);
  // Flush gives up after 300 ms; the reports come at the 2 s message timeout, after Publish returned.
  state::EventRelay relay({StackEnv("REDIS_URL")}, prefix, producer, "files.state", "t", 1s, 300ms);
  const pid_t kafka = StackPid("kafka");
  ASSERT_GT(kafka, 0);
  ASSERT_EQ(::kill(kafka, SIGSTOP), 0);
  size_t acked_while_frozen = 0;
  const auto thaw = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < thaw) acked_while_frozen += relay.RunOnce(100ms);
  const int in_flight_at_thaw = producer.InFlight();
  ::kill(kafka, SIGCONT);
  EXPECT_EQ(acked_while_frozen, 0u);
  // The frozen window was hit: reports failed after their batch's flush returned (none left in flight
  // only because they came late, each touching its batch).
  EXPECT_EQ(in_flight_at_thaw, 0);
  size_t acked = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (acked < kFiles && std::chrono::steady_clock::now() < deadline) {
    acked += relay.RunOnce(100ms);
    acked += relay.ReclaimIfDue(500ms);
  }
  EXPECT_EQ(acked, static_cast<size_t>(kFiles));
  std::set<std::string> keys;
  for (const auto& e : events.Events()) keys.insert(e["key"].get<std::string>());
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (keys.size() < kFiles && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(200ms);
    for (const auto& e : events.Events()) keys.insert(e["key"].get<std::string>());
  }
  EXPECT_EQ(keys.size(), static_cast<size_t>(kFiles));  // at least once each
  redis::Client redis({StackEnv("REDIS_URL")});
  EXPECT_EQ(redis.Command({"XLEN", prefix + "outbox"}).integer, 0);
}

TEST(StateRelayFaults, RedisFlushedUnderTheRelayRecreatesTheGroupAndGoesOn) {
  const int port = testing::FreePort();
  const std::string data = ::testing::TempDir() + "/" + UniqueName("relay-flush");
  std::filesystem::create_directories(data);
  testing::ChildProcess server("/usr/bin/redis-server",
                               {"--bind", "127.0.0.1", "--port", std::to_string(port), "--save", "",
                                "--appendonly", "yes", "--appendfsync", "always", "--dir", data},
                               {});
  const std::string url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
  std::this_thread::sleep_for(500ms);
  const std::string dir = UniqueName("relay-flush");
  const std::string prefix = "flush:{files}:";
  StateEvents events(dir + "/");
  state::RedisPool pool({url}, 1);
  state::StoreOptions o;
  o.prefix = prefix;
  state::StateStore store(pool, o);
  kafka::Producer producer({StackEnv("KAFKA_BROKERS"), "relay-flush"});
  state::EventRelay relay({url}, prefix, producer, "files.state", "t");
  store.Register("raw", dir + "/before", "e", 1);
  size_t acked = 0;
  for (int i = 0; i < 20 && acked == 0; ++i) acked += relay.RunOnce(100ms);
  ASSERT_EQ(acked, 1u);
  redis::Client admin({url});
  admin.Command({"FLUSHALL"});
  store.Register("raw", dir + "/after", "e", 1);
  acked = 0;
  for (int i = 0; i < 20 && acked == 0; ++i) acked += relay.RunOnce(100ms);  // NOGROUP without the fix
  EXPECT_EQ(acked, 1u);
  EXPECT_EQ(events.Wait(dir + "/after", "PENDING", 1, 20s).size(), 1u);
  server.Signal(SIGTERM);
  server.Wait(10s);
}

}  // namespace
}  // namespace rainbow
