#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

namespace rainbow::kafka {

// Builds a librdkafka global config, throwing KafkaError naming the property that was rejected.
std::unique_ptr<RdKafka::Conf> MakeConf(const std::map<std::string, std::string>& properties);
std::string ErrorCodeName(RdKafka::ErrorCode code);
// Errors after which the same operation may succeed later (broker down, timeouts, leader moves).
bool IsRetriable(RdKafka::ErrorCode code);

}  // namespace rainbow::kafka
