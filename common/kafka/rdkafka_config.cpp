#include "common/kafka/rdkafka_config.hpp"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string_view>

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

bool IsSecretProperty(const std::string& name) {
  return name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
         name.find("key") != std::string::npos || name.find("jaas") != std::string::npos;
}

std::map<std::string, std::string> ReadPropertiesFromEnv() {
  constexpr std::string_view kPrefix = "KAFKA_PROPERTY_";
  std::map<std::string, std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.substr(0, kPrefix.size()) != kPrefix) continue;
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string var(entry.substr(kPrefix.size(), eq - kPrefix.size()));
    std::string value(entry.substr(eq + 1));
    if (var.size() > 5 && var.substr(var.size() - 5) == "_FILE") {
      var.resize(var.size() - 5);
      std::ifstream in(value, std::ios::binary);
      if (!in)
        throw KafkaError("KAFKA_PROPERTY_" + var + "_FILE=" + value + " cannot be read", "config", false);
      std::stringstream text;
      text << in.rdbuf();
      value = text.str();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    }
    std::string name;
    for (char c : var)
      name += c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!name.empty() && !value.empty()) out[name] = value;
  }
  return out;
}

}  // namespace

const std::map<std::string, std::string>& KafkaPropertiesFromEnv() {
  static const std::map<std::string, std::string> properties = ReadPropertiesFromEnv();
  return properties;
}

std::unique_ptr<RdKafka::Conf> MakeConf(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&g_event_forwarder), err);
  for (const auto* source : {&properties, &KafkaPropertiesFromEnv()}) {
    for (const auto& [key, value] : *source) {
      if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
        const std::string shown = IsSecretProperty(key) ? "***" : value;
        throw KafkaError("kafka config " + key + "=" + shown + ": " + err, "config", false);
      }
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
