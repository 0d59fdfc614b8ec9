#include "common/kafka/rdkafka_config.hpp"

#include <librdkafka/rdkafka.h>

#include "common/kafka/types.hpp"

namespace rainbow::kafka {

std::unique_ptr<RdKafka::Conf> MakeConf(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [key, value] : properties) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
      throw KafkaError("kafka config " + key + "=" + value + ": " + err, "config", false);
    }
  }
  return conf;
}

std::string ErrorCodeName(RdKafka::ErrorCode code) {
  return rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
}

bool IsRetriable(RdKafka::ErrorCode code) {
  switch (code) {
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__QUEUE_FULL:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return true;
    default:
      return false;
  }
}

}  // namespace rainbow::kafka
