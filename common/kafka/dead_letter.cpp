#include "common/kafka/dead_letter.hpp"

#include "common/kafka/admin.hpp"
#include "common/logging/log.hpp"

namespace rainbow::kafka {

std::string DeadLetterTopic(const std::string& topic) { return topic + ".dlq"; }

DeadLetterWriter::DeadLetterWriter(Producer& producer, std::string brokers, TopicSettings settings,
                                   std::string service)
    : producer_(producer), brokers_(std::move(brokers)), settings_(settings), service_(std::move(service)) {}

void DeadLetterWriter::EnsureTopicOnce(const std::string& topic) {
  std::lock_guard lock(mu_);
  if (topics_ready_.contains(topic)) return;
  EnsureTopic(brokers_, topic, 1, settings_);
  topics_ready_.insert(topic);
}

void DeadLetterWriter::Send(const ConsumedMessage& message, const std::string& error) {
  OutgoingMessage out;
  out.topic = DeadLetterTopic(message.topic);
  out.key = message.key;
  out.value = message.value;
  out.headers = message.headers;
  out.headers.push_back({"dlq.error", error});
  out.headers.push_back({"dlq.topic", message.topic});
  out.headers.push_back({"dlq.partition", std::to_string(message.partition)});
  out.headers.push_back({"dlq.offset", std::to_string(message.offset)});
  out.headers.push_back({"dlq.service", service_});
  EnsureTopicOnce(out.topic);
  const auto report = producer_.ProduceSync(out);
  if (!report.ok)
    throw KafkaError("dead letter to " + out.topic + ": " + report.error, "dlq", report.retriable);
  log::Warn("message dead-lettered", {{"topic", message.topic},
                                      {"partition", message.partition},
                                      {"offset", message.offset},
                                      {"dlq_topic", out.topic},
                                      {"error", error}});
}

}  // namespace rainbow::kafka
