#include "common/kafka/admin.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <memory>

#include "common/kafka/rdkafka_config.hpp"
#include "common/kafka/types.hpp"

namespace rainbow::kafka {
namespace {

// A short-lived producer handle: the admin API of librdkafka 2.0 lives in its C interface.
std::unique_ptr<RdKafka::Producer> AdminHandle(const std::string& brokers) {
  auto conf = MakeConf({{"bootstrap.servers", brokers}, {"client.id", "rainbow-admin"}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> handle(RdKafka::Producer::create(conf.get(), err));
  if (!handle) throw KafkaError("kafka admin: " + err, "create", false);
  return handle;
}

}  // namespace

void EnsureTopic(const std::string& brokers, const std::string& topic, int partitions, int replication_factor,
                 std::chrono::milliseconds timeout) {
  EnsureTopic(brokers, topic, partitions, TopicSettings{replication_factor, 0}, timeout);
}

void EnsureTopic(const std::string& brokers, const std::string& topic, int partitions,
                 const TopicSettings& settings, std::chrono::milliseconds timeout) {
  auto handle = AdminHandle(brokers);
  rd_kafka_t* rk = handle->c_ptr();
  char errstr[512];
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, settings.replication_factor, errstr, sizeof(errstr));
  if (new_topic == nullptr) throw KafkaError("kafka create topic " + topic + ": " + errstr, "invalid", false);
  if (settings.min_insync_replicas > 0) {
    rd_kafka_NewTopic_set_config(new_topic, "min.insync.replicas",
                                 std::to_string(settings.min_insync_replicas).c_str());
  }
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), errstr,
                                            sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(options, static_cast<int>(timeout.count()), errstr,
                                              sizeof(errstr));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &new_topic, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);

  std::string error;
  std::string code;
  bool retriable = false;
  if (event == nullptr) {
    error = "no answer from " + brokers + " within " + std::to_string(timeout.count()) + " ms";
    code = "_TIMED_OUT";
    retriable = true;
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_event_error_string(event);
    code = rd_kafka_err2name(rd_kafka_event_error(event));
    retriable = true;
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count; ++i) {
      const auto err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* msg = rd_kafka_topic_result_error_string(results[i]);
        error = msg != nullptr ? msg : rd_kafka_err2str(err);
        code = rd_kafka_err2name(err);
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(new_topic);
  if (!error.empty()) throw KafkaError("kafka create topic " + topic + ": " + error, code, retriable);
}

int PartitionCount(const std::string& brokers, const std::string& topic, std::chrono::milliseconds timeout) {
  auto handle = AdminHandle(brokers);
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(handle.get(), topic, nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  const auto rc = handle->metadata(false, t.get(), &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (rc != RdKafka::ERR_NO_ERROR) {
    throw KafkaError("kafka metadata for " + topic + ": " + RdKafka::err2str(rc), ErrorCodeName(rc), true);
  }
  for (const auto* tm : *metadata->topics()) {
    if (tm->topic() == topic && tm->err() == RdKafka::ERR_NO_ERROR)
      return static_cast<int>(tm->partitions()->size());
  }
  return 0;
}

TopicSettings DescribeTopicSettings(const std::string& brokers, const std::string& topic,
                                    std::chrono::milliseconds timeout) {
  auto handle = AdminHandle(brokers);
  TopicSettings out{0, 0};
  {
    std::string err;
    std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(handle.get(), topic, nullptr, err));
    RdKafka::Metadata* raw = nullptr;
    const auto rc = handle->metadata(false, t.get(), &raw, static_cast<int>(timeout.count()));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (rc != RdKafka::ERR_NO_ERROR)
      throw KafkaError("kafka metadata for " + topic + ": " + RdKafka::err2str(rc), ErrorCodeName(rc), true);
    for (const auto* tm : *metadata->topics()) {
      if (tm->topic() == topic && tm->err() == RdKafka::ERR_NO_ERROR && !tm->partitions()->empty())
        out.replication_factor = static_cast<int>((*tm->partitions())[0]->replicas()->size());
    }
  }
  if (out.replication_factor == 0)
    throw KafkaError("kafka topic " + topic + " does not exist", "unknown", false);

  rd_kafka_t* rk = handle->c_ptr();
  char errstr[512];
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), errstr,
                                            sizeof(errstr));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &resource, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  std::string error;
  if (event == nullptr) {
    error = "no answer within " + std::to_string(timeout.count()) + " ms";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_event_error_string(event);
  } else {
    size_t count = 0;
    const rd_kafka_ConfigResource_t** resources =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count);
    for (size_t i = 0; i < count; ++i) {
      size_t n = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[i], &n);
      for (size_t j = 0; j < n; ++j) {
        const char* value = rd_kafka_ConfigEntry_value(entries[j]);
        if (std::string(rd_kafka_ConfigEntry_name(entries[j])) == "min.insync.replicas" && value != nullptr &&
            rd_kafka_ConfigEntry_source(entries[j]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
          out.min_insync_replicas = std::stoi(value);
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_ConfigResource_destroy(resource);
  if (!error.empty()) throw KafkaError("kafka describe configs of " + topic + ": " + error, "describe", true);
  return out;
}

}  // namespace rainbow::kafka
