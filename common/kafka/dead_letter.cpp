#include "common/kafka/dead_letter.hpp"

#include "common/logging/log.hpp"

namespace rainbow::kafka {

std::string DeadLetterTopic(const std::string& topic) { return topic + ".dlq"; }

void SendToDeadLetter(Producer& producer, const ConsumedMessage& message, const std::string& error,
                      const std::string& service) {
  OutgoingMessage out;
  out.topic = DeadLetterTopic(message.topic);
  out.key = message.key;
  out.value = message.value;
  out.headers = message.headers;
  out.headers.push_back({"dlq.error", error});
  out.headers.push_back({"dlq.topic", message.topic});
  out.headers.push_back({"dlq.partition", std::to_string(message.partition)});
  out.headers.push_back({"dlq.offset", std::to_string(message.offset)});
  out.headers.push_back({"dlq.service", service});
  const auto report = producer.ProduceSync(out);
  if (!report.ok)
    throw KafkaError("dead letter to " + out.topic + ": " + report.error, "dlq", report.retriable);
  log::Warn("message dead-lettered", {{"topic", message.topic},
                                      {"partition", message.partition},
                                      {"offset", message.offset},
                                      {"dlq_topic", out.topic},
                                      {"error", error}});
}

}  // namespace rainbow::kafka
