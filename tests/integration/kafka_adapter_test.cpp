// common/kafka against the real broker of the test stack.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/kafka/dead_letter.hpp"
#include "common/kafka/producer.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::kafka {
namespace {

using namespace std::chrono_literals;
using rainbow::testing::StackEnv;
using rainbow::testing::UniqueName;

// Drains a consumer until `want` messages arrived or the deadline passed.
std::vector<ConsumedMessage> ConsumeN(Consumer& consumer, size_t want, std::chrono::seconds deadline) {
  std::vector<ConsumedMessage> got;
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (got.size() < want && std::chrono::steady_clock::now() < end) {
    if (auto m = consumer.Poll(500ms)) got.push_back(std::move(*m));
  }
  return got;
}

TEST(KafkaAdapter, TenThousandKeyedMessagesWithHeadersKeepPerKeyOrder) {
  const std::string brokers = StackEnv("KAFKA_BROKERS");
  const std::string topic = UniqueName("test.kafka.keyed");
  EnsureTopic(brokers, topic, 3, 1);
  EnsureTopic(brokers, topic, 3, 1);  // creating an existing topic is fine
  ASSERT_EQ(PartitionCount(brokers, topic), 3);

  constexpr int kMessages = 10'000;
  constexpr int kKeys = 97;
  std::atomic<int> acked{0};
  std::atomic<int> failed{0};
  {
    Producer producer({brokers, "kafka-adapter-test"});
    for (int i = 0; i < kMessages; ++i) {
      const int key = i % kKeys;
      const int seq = i / kKeys;
      producer.Produce(
          {topic,
           "key-" + std::to_string(key),
           "value-" + std::to_string(i),
           {{"seq", std::to_string(seq)}, {"trace-id", "t" + std::to_string(i)}, {"empty", std::nullopt}},
           std::nullopt},
          [&](const DeliveryReport& r) { (r.ok ? acked : failed)++; });
    }
    ASSERT_TRUE(producer.Flush(60s));
  }
  EXPECT_EQ(acked.load(), kMessages);
  EXPECT_EQ(failed.load(), 0);

  Consumer consumer({brokers, UniqueName("group"), {topic}});
  const auto got = ConsumeN(consumer, kMessages, 90s);
  ASSERT_EQ(got.size(), static_cast<size_t>(kMessages));

  std::map<std::string, int> next_seq;
  std::map<std::string, int32_t> partition_of;
  std::set<int> seen;
  for (const auto& m : got) {
    ASSERT_TRUE(m.key.has_value());
    ASSERT_TRUE(m.value.has_value());
    const int i = std::stoi(m.value->substr(6));
    EXPECT_EQ(*m.key, "key-" + std::to_string(i % kKeys));
    EXPECT_EQ(m.HeaderValue("trace-id"), "t" + std::to_string(i));
    // A header with a null value survives as null.
    bool has_empty = false;
    for (const auto& h : m.headers) has_empty |= (h.key == "empty" && !h.value);
    EXPECT_TRUE(has_empty);
    const int seq = std::stoi(m.HeaderValue("seq").value());
    EXPECT_EQ(seq, next_seq[*m.key]) << "order broken for " << *m.key;
    next_seq[*m.key] = seq + 1;
    auto [it, inserted] = partition_of.emplace(*m.key, m.partition);
    EXPECT_EQ(it->second, m.partition) << "key moved between partitions";
    seen.insert(i);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages));
  std::set<int32_t> partitions;
  for (const auto& [k, p] : partition_of) partitions.insert(p);
  EXPECT_EQ(partitions.size(), 3u) << "keys should spread over the 3 partitions";
}

TEST(KafkaAdapter, ManualCommitsResumeWhereTheGroupLeftOff) {
  const std::string brokers = StackEnv("KAFKA_BROKERS");
  const std::string topic = UniqueName("test.kafka.commit");
  EnsureTopic(brokers, topic, 1, 1);
  Producer producer({brokers, "commit-test"});
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(producer.ProduceSync({topic, "k", std::to_string(i), {}, std::nullopt}).ok);
  }
  const std::string group = UniqueName("group");
  {
    Consumer first({brokers, group, {topic}});
    const auto got = ConsumeN(first, 4, 60s);
    ASSERT_EQ(got.size(), 4u);
    first.Commit(got[3]);  // handled 0..3
    EXPECT_EQ(first.Committed(topic, 0), 4);
  }
  Consumer second({brokers, group, {topic}});
  const auto rest = ConsumeN(second, 6, 60s);
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest.front().value, "4");
  EXPECT_EQ(rest.back().value, "9");
}

TEST(KafkaAdapter, TailConsumerSeesOnlyWhatComesAfterItStarted) {
  const std::string brokers = StackEnv("KAFKA_BROKERS");
  const std::string topic = UniqueName("test.kafka.tail");
  EnsureTopic(brokers, topic, 3, 1);
  auto produce = [&](const std::string& prefix, int n) {
    Producer producer({brokers, "kafka-adapter-test"});
    for (int i = 0; i < n; ++i)
      producer.Produce({topic, "k" + std::to_string(i), prefix + std::to_string(i)});
    ASSERT_TRUE(producer.Flush(30s));
  };
  produce("history-", 30);  // spread over the three partitions by key
  ConsumerConfig config{brokers, UniqueName("tail"), {topic}, "kafka-adapter-test"};
  config.tail = true;
  Consumer tail(config);
  produce("new-", 12);
  const auto got = ConsumeN(tail, 13, 10s);  // one more than produced: nothing else may arrive
  ASSERT_EQ(got.size(), 12u);
  std::set<std::string> values;
  for (const auto& m : got) values.insert(m.value.value_or(""));
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(values.count("new-" + std::to_string(i))) << i;
}

// The dead-letter topic does not exist yet: the writer creates it with the service's topic settings
// (never the broker's auto-creation defaults), and the record lands.
TEST(KafkaAdapter, PoisonMessageGoesToTheDeadLetterTopicWithItsError) {
  const std::string brokers = StackEnv("KAFKA_BROKERS");
  const std::string topic = UniqueName("test.kafka.poison");
  EnsureTopic(brokers, topic, 1, 1);
  Producer producer({brokers, "dlq-test"});
  DeadLetterWriter writer(producer, brokers, TopicSettings{1, 1}, "kafka-adapter-test");
  ASSERT_TRUE(producer.ProduceSync({topic, "k1", "{not json", {{"origin", "test"}}, std::nullopt}).ok);

  Consumer consumer({brokers, UniqueName("group"), {topic}});
  const auto got = ConsumeN(consumer, 1, 60s);
  ASSERT_EQ(got.size(), 1u);
  writer.Send(got[0], "invalid JSON at byte 1");
  consumer.Commit(got[0]);
  const auto created = DescribeTopicSettings(brokers, DeadLetterTopic(topic));
  EXPECT_EQ(created.replication_factor, 1);
  EXPECT_EQ(created.min_insync_replicas, 1);  // set on the topic: not an auto-created one

  Consumer dlq({brokers, UniqueName("group"), {DeadLetterTopic(topic)}});
  const auto dead = ConsumeN(dlq, 1, 60s);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, "k1");
  EXPECT_EQ(dead[0].value, "{not json");
  EXPECT_EQ(dead[0].HeaderValue("origin"), "test");
  EXPECT_EQ(dead[0].HeaderValue("dlq.error"), "invalid JSON at byte 1");
  EXPECT_EQ(dead[0].HeaderValue("dlq.topic"), topic);
  EXPECT_EQ(dead[0].HeaderValue("dlq.offset"), "0");
}

// The topic settings reach the broker: replication factor and the topic's own min.insync.replicas (here
// above the replication factor, which Kafka accepts at creation, so the value cannot be the default 1).
TEST(KafkaAdapter, EnsureTopicSetsReplicationAndMinInsyncReplicas) {
  const std::string brokers = StackEnv("KAFKA_BROKERS");
  const std::string with = UniqueName("test.kafka.minisr");
  EnsureTopic(brokers, with, 1, TopicSettings{1, 2});
  const auto got = DescribeTopicSettings(brokers, with);
  EXPECT_EQ(got.replication_factor, 1);
  EXPECT_EQ(got.min_insync_replicas, 2);
  const std::string without = UniqueName("test.kafka.nominisr");
  EnsureTopic(brokers, without, 1, 1);
  EXPECT_EQ(DescribeTopicSettings(brokers, without).min_insync_replicas, 0);
}

// A broker that is not there (nothing listens on the port: what a client sees of a stopped broker)
// must surface as a failed delivery report within message.timeout.ms, not as a hang.
TEST(KafkaAdapter, ProduceToAStoppedBrokerFailsInsteadOfHanging) {
  const std::string dead = "127.0.0.1:" + std::to_string(rainbow::testing::FreePort());
  const auto start = std::chrono::steady_clock::now();
  Producer producer({dead, "dead-broker-test", 3s});
  const auto report = producer.ProduceSync({"anything", "k", "v", {}, std::nullopt});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(report.retriable);
  EXPECT_NE(report.error.find("timed out"), std::string::npos) << report.error;
  EXPECT_LT(elapsed, 20s);
  EXPECT_THROW(EnsureTopic(dead, "anything", 1, 1, 2s), KafkaError);
}

// The stack's own broker stopped under a live producer: the report fails (retriable) within the message
// timeout, and once the broker is back the same producer delivers again.
TEST(KafkaAdapter, StoppedStackBrokerSurfacesErrorAndProducerRecovers) {
  const std::string brokers = StackEnv("KAFKA_BROKERS");
  const std::string topic = UniqueName("test.kafka.restart");
  EnsureTopic(brokers, topic, 1, 1);
  Producer producer({brokers, "restart-test", 5s});
  ASSERT_TRUE(producer.ProduceSync({topic, "k", "before", {}, std::nullopt}).ok);

  ASSERT_EQ(rainbow::testing::StackCommand("down kafka"), 0);
  const auto start = std::chrono::steady_clock::now();
  const auto report = producer.ProduceSync({topic, "k", "while-down", {}, std::nullopt});
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(report.retriable) << report.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);

  ASSERT_EQ(rainbow::testing::StackCommand("up kafka"), 0);
  DeliveryReport after;
  for (int attempt = 0; attempt < 6 && !after.ok; ++attempt) {
    after = producer.ProduceSync({topic, "k", "after", {}, std::nullopt});
  }
  EXPECT_TRUE(after.ok) << after.error;

  Consumer consumer({brokers, UniqueName("group"), {topic}});
  const auto got = ConsumeN(consumer, 2, 60s);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got.front().value, "before");
  EXPECT_EQ(got.back().value, "after");
}

}  // namespace
}  // namespace rainbow::kafka
