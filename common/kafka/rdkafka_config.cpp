#include "common/kafka/rdkafka_config.hpp"

#include <librdkafka/rdkafka.h>

#include "common/kafka/types.hpp"
#include "common/logging/log.hpp"

namespace rainbow::kafka {

namespace {

// librdkafka's own log lines and errors, turned into our JSON log lines (it would otherwise print
// "%3|..." lines to stderr). Runs on librdkafka threads; log:: is thread-safe.
class EventForwarder final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_LOG: {
        const log::Fields fields{{"component", "librdkafka"}, {"facility", event.fac()}};
        // Connection failures arrive twice (as a log line and as an error event): the error event
        // is the one we keep at warn; log lines stay at debug unless critical.
        if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_CRITICAL) {
          log::Error(event.str(), fields);
        } else {
          log::Debug(event.str(), fields);
        }
        break;
      }
      case RdKafka::Event::EVENT_ERROR:
        log::Warn("kafka client error", {{"component", "librdkafka"},
                                         {"error", event.str()},
                                         {"code", ErrorCodeName(event.err())},
                                         {"fatal", event.fatal()}});
        break;
      default:
        break;
    }
  }
};

EventForwarder g_event_forwarder;

}  // namespace

std::unique_ptr<RdKafka::Conf> MakeConf(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&g_event_forwarder), err);
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
