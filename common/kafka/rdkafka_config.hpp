#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

namespace rainbow::kafka {

// Builds a librdkafka global config from `properties` and then KafkaPropertiesFromEnv() (which win, so
// an operator can set any client property, TLS and SASL above all, without code). Throws KafkaError
// naming the property that was rejected (its value too, unless the name says it is a secret).
std::unique_ptr<RdKafka::Conf> MakeConf(const std::map<std::string, std::string>& properties);

// librdkafka properties from the process environment, under librdkafka's own names: each
// KAFKA_PROPERTY_<NAME>=value sets <name> (lower case, '_' read as '.'), e.g.
// KAFKA_PROPERTY_SECURITY_PROTOCOL=SASL_SSL, KAFKA_PROPERTY_SASL_MECHANISMS=SCRAM-SHA-512,
// KAFKA_PROPERTY_SSL_CA_LOCATION=/etc/ca.pem. KAFKA_PROPERTY_<NAME>_FILE=path reads the value from a
// file (for secrets such as KAFKA_PROPERTY_SASL_PASSWORD_FILE). Read once per process.
const std::map<std::string, std::string>& KafkaPropertiesFromEnv();
std::string ErrorCodeName(RdKafka::ErrorCode code);
// Errors after which the same operation may succeed later (broker down, timeouts, leader moves).
bool IsRetriable(RdKafka::ErrorCode code);

}  // namespace rainbow::kafka
