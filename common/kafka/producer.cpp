#include "common/kafka/producer.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <future>

#include "common/kafka/rdkafka_config.hpp"

namespace rainbow::kafka {

// Routes each delivery report to the callback that Produce stored as the message's opaque pointer.
class Producer::DeliveryDispatcher final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<DeliveryCallback> callback(static_cast<DeliveryCallback*>(message.msg_opaque()));
    if (!callback || !*callback) return;
    DeliveryReport report;
    report.ok = message.err() == RdKafka::ERR_NO_ERROR;
    if (!report.ok) {
      report.error = RdKafka::err2str(message.err()) + " (" + ErrorCodeName(message.err()) + ")";
      report.retriable = IsRetriable(message.err());
    }
    report.topic = message.topic_name();
    report.partition = message.partition();
    report.offset = message.offset();
    (*callback)(report);
  }
};

Producer::Producer(ProducerConfig config) : config_(std::move(config)), dispatcher_(new DeliveryDispatcher) {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", config_.brokers},
      {"client.id", config_.client_id},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", std::to_string(config_.linger.count())},
      {"message.timeout.ms", std::to_string(config_.message_timeout.count())},
      {"compression.type", "lz4"},
  };
  for (const auto& [k, v] : config_.properties) props[k] = v;
  auto conf = MakeConf(props);
  std::string err;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(dispatcher_.get()), err) !=
      RdKafka::Conf::CONF_OK) {
    throw KafkaError("kafka producer: " + err, "config", false);
  }
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!producer_) throw KafkaError("kafka producer: cannot create: " + err, "create", false);
  poller_ = std::thread([this] {
    while (!stop_.load(std::memory_order_relaxed)) producer_->poll(50);
  });
}

Producer::~Producer() {
  Flush(config_.message_timeout);
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  // Anything still queued is purged so its callbacks run (as failures) before the handle goes away.
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);
}

void Producer::Produce(const OutgoingMessage& message, DeliveryCallback on_delivery) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  for (const auto& h : message.headers) {
    if (h.value) {
      headers->add(h.key, h.value->data(), h.value->size());
    } else {
      headers->add(h.key, nullptr, 0);
    }
  }
  auto* callback = new DeliveryCallback(std::move(on_delivery));
  const auto deadline = std::chrono::steady_clock::now() + config_.message_timeout;
  for (;;) {
    const auto err = producer_->produce(
        message.topic, message.partition.value_or(RdKafka::Topic::PARTITION_UA),
        RdKafka::Producer::RK_MSG_COPY, message.value ? const_cast<char*>(message.value->data()) : nullptr,
        message.value ? message.value->size() : 0, message.key ? message.key->data() : nullptr,
        message.key ? message.key->size() : 0, 0, headers, callback);
    if (err == RdKafka::ERR_NO_ERROR) return;  // headers and callback now belong to librdkafka
    if (err == RdKafka::ERR__QUEUE_FULL && std::chrono::steady_clock::now() < deadline) {
      producer_->poll(10);  // let delivery reports drain the queue
      continue;
    }
    delete headers;
    delete callback;
    throw KafkaError("kafka produce to " + message.topic + ": " + RdKafka::err2str(err), ErrorCodeName(err),
                     IsRetriable(err));
  }
}

DeliveryReport Producer::ProduceSync(const OutgoingMessage& message) {
  auto promise = std::make_shared<std::promise<DeliveryReport>>();
  auto future = promise->get_future();
  Produce(message, [promise](const DeliveryReport& r) { promise->set_value(r); });
  return future.get();
}

bool Producer::Flush(std::chrono::milliseconds timeout) {
  return producer_->flush(static_cast<int>(timeout.count())) == RdKafka::ERR_NO_ERROR;
}

int Producer::InFlight() const { return producer_->outq_len(); }

}  // namespace rainbow::kafka
