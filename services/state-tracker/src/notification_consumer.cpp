#include "services/state-tracker/src/notification_consumer.hpp"

#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "common/logging/log.hpp"
#include "common/retry/backoff.hpp"

namespace rainbow::state {

using namespace std::chrono_literals;

NotificationConsumer::NotificationConsumer(const Options& options, StateStore& store,
                                           kafka::DeadLetterWriter& dead_letters, TrackerMetrics& metrics,
                                           RedisDurabilityCheck& durability)
    : options_(options),
      store_(store),
      dead_letters_(dead_letters),
      metrics_(metrics),
      durability_(durability),
      consumer_({options.brokers, options.group, {options.topic}, "state-tracker"}) {}

NotificationConsumer::~NotificationConsumer() { consumer_.Close(); }

size_t NotificationConsumer::RunOnce(std::stop_token stop, std::chrono::milliseconds wait) {
  if (!durability_.Durable()) {
    // Paused (the durability check logs why): registering now would mean committing offsets of
    // writes a Redis crash can lose.
    std::this_thread::sleep_for(wait);
    return 0;
  }
  std::vector<kafka::ConsumedMessage> batch;
  try {
    for (auto m = consumer_.Poll(wait); m; m = consumer_.Poll(0ms)) {
      batch.push_back(std::move(*m));
      if (batch.size() == options_.batch) break;
    }
  } catch (const std::exception& e) {
    if (batch.empty()) throw;
    log::Error("files.events poll failed", {{"error", e.what()}});
  }
  std::map<std::pair<std::string, int32_t>, int64_t> handled;  // next offset per partition
  std::map<kafka::TopicPartition, int64_t> first;              // the batch's first offset per partition
  for (const auto& m : batch) first.try_emplace({m.topic, m.partition}, m.offset);
  size_t count = 0;
  for (const auto& m : batch) {
    int attempt = 0;
    try {
      retry::WithRetry(
          stop, {100ms, 2s, 2.0, 0},
          [&] { IngestNotification(m, store_, dead_letters_, metrics_, options_.accept_prefix); },
          [&](const std::exception& e) {
            log::Warn("notification not handled, retrying", {{"partition", m.partition},
                                                             {"offset", m.offset},
                                                             {"attempt", ++attempt},
                                                             {"error", e.what()}});
            return true;
          });
    } catch (const std::exception&) {
      break;  // stopping: what was handled so far is still committed below
    }
    handled[{m.topic, m.partition}] = m.offset + 1;
    ++count;
  }
  if (handled.empty()) return 0;
  if (const auto why = durability_.CheckNow(); !why.empty()) {
    // Read the batch again once Redis is durable: its writes may be lost, so registering them again
    // (idempotent) is what makes the later commit cover durable writes only.
    log::Error(
        "files.events offsets not committed: redis writes may not be durable; the batch will be read "
        "again",
        {{"reason", why}, {"messages", count}});
    for (const auto& [partition, offset] : first) consumer_.Seek(partition, offset);
    return 0;
  }
  try {
    consumer_.Commit(handled);
  } catch (const std::exception& e) {
    // Not lost: uncommitted messages come again (after a restart or rebalance) and Register is
    // idempotent on bucket/key/etag; the next batch's commit covers these offsets too.
    log::Warn("files.events commit failed", {{"error", e.what()}, {"messages", batch.size()}});
  }
  return count;
}

}  // namespace rainbow::state
