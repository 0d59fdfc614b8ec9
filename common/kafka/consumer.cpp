#include "common/kafka/consumer.hpp"

#include <librdkafka/rdkafkacpp.h>

#include "common/kafka/rdkafka_config.hpp"
#include "common/logging/log.hpp"

namespace rainbow::kafka {

std::optional<std::string> ConsumedMessage::HeaderValue(const std::string& wanted) const {
  for (const auto& h : headers) {
    if (h.key == wanted) return h.value;
  }
  return std::nullopt;
}

// Applies the group's partition changes (eager protocol: a whole new assignment each time), asking
// ConsumerConfig's hooks where to start.
class Consumer::Rebalancer : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(const ConsumerConfig& config) : config_(config) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    std::vector<TopicPartition> names;
    for (const auto* p : partitions) names.emplace_back(p->topic(), p->partition());
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      std::map<TopicPartition, int64_t> starts;
      if (config_.on_assign) starts = config_.on_assign(names);
      for (auto* p : partitions) {
        const auto it = starts.find({p->topic(), p->partition()});
        if (it != starts.end()) p->set_offset(it->second);
      }
      const auto a = consumer->assign(partitions);
      if (a != RdKafka::ERR_NO_ERROR)
        log::Error("kafka consumer: assign failed", {{"error", RdKafka::err2str(a)}});
    } else {
      if (config_.on_revoke) config_.on_revoke(names);
      consumer->unassign();
    }
  }

 private:
  const ConsumerConfig& config_;
};

Consumer::Consumer(ConsumerConfig config) : config_(std::move(config)) {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", config_.brokers},
      {"group.id", config_.group_id},
      {"client.id", config_.client_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", config_.offset_reset},
      {"enable.partition.eof", "false"},
      // Lets a consumer start before a topic exists (the producer side may create it later).
      {"allow.auto.create.topics", "false"},
      {"topic.metadata.refresh.interval.ms", "5000"},
  };
  for (const auto& [k, v] : config_.properties) props[k] = v;
  auto conf = MakeConf(props);
  std::string err;
  if (config_.on_assign || config_.on_revoke) {
    rebalancer_ = std::make_unique<Rebalancer>(config_);
    if (conf->set("rebalance_cb", rebalancer_.get(), err) != RdKafka::Conf::CONF_OK)
      throw KafkaError("kafka consumer: rebalance_cb: " + err, "config", false);
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) throw KafkaError("kafka consumer: cannot create: " + err, "create", false);
  if (config_.tail) {
    AssignAtEnd();
    return;
  }
  const auto sub = consumer_->subscribe(config_.topics);
  if (sub != RdKafka::ERR_NO_ERROR) {
    throw KafkaError("kafka consumer: subscribe: " + RdKafka::err2str(sub), ErrorCodeName(sub), false);
  }
}

void Consumer::AssignAtEnd() {
  constexpr int kTimeoutMs = 10'000;
  std::vector<RdKafka::TopicPartition*> parts;
  auto fail = [&](const std::string& what, RdKafka::ErrorCode err) {
    RdKafka::TopicPartition::destroy(parts);
    throw KafkaError("kafka consumer: " + what + ": " + RdKafka::err2str(err), ErrorCodeName(err),
                     IsRetriable(err));
  };
  for (const auto& topic : config_.topics) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer_.get(), topic, nullptr, err));
    if (!handle) throw KafkaError("kafka consumer: topic " + topic + ": " + err, "topic", false);
    RdKafka::Metadata* raw = nullptr;
    const auto md_err = consumer_->metadata(false, handle.get(), &raw, kTimeoutMs);
    std::unique_ptr<RdKafka::Metadata> md(raw);
    if (md_err != RdKafka::ERR_NO_ERROR) fail("metadata of " + topic, md_err);
    for (const auto* t : *md->topics()) {
      if (t->err() != RdKafka::ERR_NO_ERROR) fail("topic " + topic, t->err());
      for (const auto* p : *t->partitions()) {
        int64_t low = 0, high = 0;
        const auto w = consumer_->query_watermark_offsets(topic, p->id(), &low, &high, kTimeoutMs);
        if (w != RdKafka::ERR_NO_ERROR) fail("end offset of " + topic, w);
        parts.push_back(RdKafka::TopicPartition::create(topic, p->id(), high));
      }
    }
  }
  const auto err = consumer_->assign(parts);
  if (err != RdKafka::ERR_NO_ERROR) fail("assign", err);
  RdKafka::TopicPartition::destroy(parts);
}

Consumer::~Consumer() { Close(); }

void Consumer::Close() {
  if (closed_ || !consumer_) return;
  closed_ = true;
  consumer_->close();
}

std::optional<ConsumedMessage> Consumer::Poll(std::chrono::milliseconds timeout) {
  std::unique_ptr<RdKafka::Message> msg(consumer_->consume(static_cast<int>(timeout.count())));
  switch (msg->err()) {
    case RdKafka::ERR_NO_ERROR:
      break;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return std::nullopt;
    default:
      if (msg->err() == RdKafka::ERR__FATAL ||
          (!IsRetriable(msg->err()) && msg->err() != RdKafka::ERR__TRANSPORT &&
           msg->err() != RdKafka::ERR_UNKNOWN_TOPIC_OR_PART)) {
        throw KafkaError("kafka consume: " + msg->errstr(), ErrorCodeName(msg->err()), false);
      }
      log::Warn("kafka consumer transient error",
                {{"error", msg->errstr()}, {"code", ErrorCodeName(msg->err())}});
      return std::nullopt;
  }
  ConsumedMessage out;
  out.topic = msg->topic_name();
  out.partition = msg->partition();
  out.offset = msg->offset();
  if (msg->key_pointer() != nullptr)
    out.key = std::string(static_cast<const char*>(msg->key_pointer()), msg->key_len());
  if (msg->payload() != nullptr)
    out.value = std::string(static_cast<const char*>(msg->payload()), msg->len());
  out.timestamp_ms = msg->timestamp().timestamp;
  if (RdKafka::Headers* headers = msg->headers()) {
    for (const auto& h : headers->get_all()) {
      Header header{h.key(), std::nullopt};
      if (h.value() != nullptr)
        header.value = std::string(static_cast<const char*>(h.value()), h.value_size());
      out.headers.push_back(std::move(header));
    }
  }
  return out;
}

void Consumer::Commit(const ConsumedMessage& message) {
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  next[{message.topic, message.partition}] = message.offset + 1;
  Commit(next);
}

void Consumer::Commit(const std::map<std::pair<std::string, int32_t>, int64_t>& next_offsets) {
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto& [tp, offset] : next_offsets)
    parts.push_back(RdKafka::TopicPartition::create(tp.first, tp.second, offset));
  const auto err = consumer_->commitSync(parts);
  std::string part_error;
  for (auto* p : parts) {
    if (p->err() != RdKafka::ERR_NO_ERROR && part_error.empty()) part_error = RdKafka::err2str(p->err());
  }
  RdKafka::TopicPartition::destroy(parts);
  if (err != RdKafka::ERR_NO_ERROR || !part_error.empty()) {
    throw KafkaError("kafka commit: " + (err != RdKafka::ERR_NO_ERROR ? RdKafka::err2str(err) : part_error),
                     ErrorCodeName(err), IsRetriable(err));
  }
}

std::optional<int64_t> Consumer::Committed(const std::string& topic, int32_t partition) {
  std::vector<RdKafka::TopicPartition*> parts{RdKafka::TopicPartition::create(topic, partition)};
  const auto err = consumer_->committed(parts, 10'000);
  const int64_t offset = parts[0]->offset();
  RdKafka::TopicPartition::destroy(parts);
  if (err != RdKafka::ERR_NO_ERROR) {
    throw KafkaError("kafka committed: " + RdKafka::err2str(err), ErrorCodeName(err), IsRetriable(err));
  }
  if (offset < 0) return std::nullopt;
  return offset;
}

void Consumer::Seek(const TopicPartition& partition, int64_t offset) {
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(partition.first, partition.second, offset));
  const auto err = consumer_->seek(*tp, 10'000);
  if (err != RdKafka::ERR_NO_ERROR) {
    throw KafkaError("kafka seek " + partition.first + "/" + std::to_string(partition.second) + ": " +
                         RdKafka::err2str(err),
                     ErrorCodeName(err), IsRetriable(err));
  }
}

std::vector<TopicPartition> Consumer::Assignment() {
  std::vector<RdKafka::TopicPartition*> parts;
  const auto err = consumer_->assignment(parts);
  std::vector<TopicPartition> out;
  for (const auto* p : parts) out.emplace_back(p->topic(), p->partition());
  RdKafka::TopicPartition::destroy(parts);
  if (err != RdKafka::ERR_NO_ERROR)
    throw KafkaError("kafka assignment: " + RdKafka::err2str(err), ErrorCodeName(err), IsRetriable(err));
  return out;
}

std::optional<int64_t> Consumer::CachedEndOffset(const TopicPartition& partition) {
  int64_t low = 0, high = 0;
  if (consumer_->get_watermark_offsets(partition.first, partition.second, &low, &high) !=
          RdKafka::ERR_NO_ERROR ||
      high < 0)
    return std::nullopt;
  return high;
}

}  // namespace rainbow::kafka
