#pragma once

#include <string>

#include "common/kafka/producer.hpp"
#include "common/kafka/types.hpp"

namespace rainbow::kafka {

// The dead-letter topic of a topic (shared/DESIGN.md: `<topic>.dlq`).
std::string DeadLetterTopic(const std::string& topic);

// Copies a message a consumer cannot process to `<topic>.dlq` (same key, value and headers) with
// headers naming the error and the origin (dlq.error, dlq.topic, dlq.partition, dlq.offset,
// dlq.service), and waits for the broker's ack: the caller commits the original offset only after
// this returns. Throws KafkaError if the dead letter could not be written.
void SendToDeadLetter(Producer& producer, const ConsumedMessage& message, const std::string& error,
                      const std::string& service);

}  // namespace rainbow::kafka
