// Flow B's first hop against the real stack: an object put into bucket `raw` produces a MinIO bucket
// notification on Kafka `files.events` in the MinIO/AWS shape that state-tracker parses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/kafka/consumer.hpp"
#include "common/s3/client.hpp"
#include "tests/support/s3_stack_env.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow {
namespace {

using namespace std::chrono_literals;
using rainbow::testing::StackEnv;
using rainbow::testing::UniqueName;

TEST(S3Notification, PutIntoRawArrivesOnFilesEvents) {
  // A group new to the topic reads it from the start; the test looks for its own key only.
  kafka::Consumer consumer({StackEnv("KAFKA_BROKERS"), UniqueName("notify-test"), {"files.events"}});
  s3::S3Client client(rainbow::testing::S3ConfigFromStack());
  const std::string key = "incoming/" + UniqueName("notify test") + " +=.json";
  const std::string body = R"([{"ean":"1","name":"x"}])";
  const auto put = client.PutObject(s3::BucketName("raw"), s3::ObjectKey(key), body);

  std::optional<nlohmann::json> event;
  std::optional<std::string> message_key;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!event && std::chrono::steady_clock::now() < deadline) {
    auto m = consumer.Poll(500ms);
    if (!m || !m->value) continue;
    auto j = nlohmann::json::parse(*m->value, nullptr, false);
    if (j.is_discarded() || j.value("Key", "") != "raw/" + key) continue;
    event = j;
    message_key = m->key;
  }
  ASSERT_TRUE(event.has_value()) << "no notification for raw/" << key << " on files.events within 60 s";
  EXPECT_EQ(message_key, "raw/" + key);
  EXPECT_EQ((*event)["EventName"], "s3:ObjectCreated:Put");
  const auto& record = (*event)["Records"].at(0);
  EXPECT_EQ(record["eventName"], "s3:ObjectCreated:Put");
  EXPECT_EQ(record["s3"]["bucket"]["name"], "raw");
  EXPECT_EQ(record["s3"]["object"]["size"], body.size());
  EXPECT_EQ(record["s3"]["object"]["eTag"], put.etag);
  // The record's key is URL-query-escaped (space -> '+', '/' -> %2F); the top-level Key is not.
  const std::string escaped = record["s3"]["object"]["key"];
  EXPECT_EQ(escaped.find(' '), std::string::npos) << escaped;
  EXPECT_NE(escaped.find("%2F"), std::string::npos) << escaped;
  client.DeleteObject(s3::BucketName("raw"), s3::ObjectKey(key));
}

}  // namespace
}  // namespace rainbow
