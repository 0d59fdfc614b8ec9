#include "services/state-tracker/src/event_relay.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "common/logging/log.hpp"

namespace rainbow::state {

namespace {
constexpr const char* kGroup = "relay";
constexpr int kBatch = 500;
}  // namespace

EventRelay::EventRelay(redis::RedisConfig redis, std::string prefix, kafka::Producer& producer,
                       std::string topic, std::string consumer_name, std::chrono::milliseconds reclaim_idle,
                       std::chrono::milliseconds flush_timeout)
    : redis_(std::move(redis)),
      stream_(std::move(prefix) + "outbox"),
      producer_(producer),
      topic_(std::move(topic)),
      consumer_(std::move(consumer_name)),
      reclaim_idle_(reclaim_idle),
      flush_timeout_(flush_timeout) {}

void EventRelay::EnsureGroup() {
  if (group_ready_) return;
  try {
    // From the start of the stream: events written before any relay existed are published too.
    redis_.Command({"XGROUP", "CREATE", stream_, kGroup, "0", "MKSTREAM"});
  } catch (const redis::RedisError& e) {
    if (e.connection() || std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
  }
  group_ready_ = true;
}

size_t EventRelay::Publish(const redis::Reply& entries) {
  // entries: [[id, [field, value, ...]], ...]
  // The batch is shared with the delivery callbacks: a report can arrive after this function returned
  // (the flush timed out, or a Produce threw mid-batch), and must then find the batch alive.
  struct Pending {
    std::string id;
    std::atomic<bool> ok{false};
  };
  auto batch = std::make_shared<std::vector<std::unique_ptr<Pending>>>();
  for (const auto& e : entries.elements) {
    if (e.elements.size() < 2) continue;
    std::string key, event;
    const auto& fields = e.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "key") key = fields[i + 1].str;
      if (fields[i].str == "event") event = fields[i + 1].str;
    }
    auto p = std::make_unique<Pending>();
    p->id = e.elements[0].str;
    Pending* raw = p.get();
    batch->push_back(std::move(p));
    try {
      producer_.Produce({topic_, key, event}, [batch, raw](const kafka::DeliveryReport& r) {
        raw->ok = r.ok;
        if (!r.ok) log::Warn("files.state event not delivered; will retry", {{"error", r.error}});
      });
    } catch (const std::exception& ex) {
      // Not enqueued (the local queue stayed full): it and the rest stay unacknowledged in the stream
      // and are taken again by Reclaim; what was enqueued is acknowledged below once delivered.
      log::Warn("files.state produce failed; the rest of the batch will be retried", {{"error", ex.what()}});
      batch->pop_back();
      break;
    }
  }
  if (batch->empty()) return 0;
  if (!producer_.Flush(flush_timeout_)) {
    log::Warn("files.state flush timed out; undelivered events stay in the outbox",
              {{"in_flight", producer_.InFlight()}});
  }
  std::vector<std::string> ack = {"XACK", stream_, kGroup};
  std::vector<std::string> del = {"XDEL", stream_};
  for (const auto& p : *batch) {
    if (!p->ok) continue;
    ack.push_back(p->id);
    del.push_back(p->id);
  }
  if (ack.size() == 3) return 0;
  redis_.Command(ack);
  redis_.Command(del);
  return ack.size() - 3;
}

redis::Reply EventRelay::GroupCommand(const std::vector<std::string>& args) {
  EnsureGroup();
  try {
    return redis_.Command(args);
  } catch (const redis::RedisError& e) {
    // The stream or its group is gone (Redis flushed, or replaced by an empty one): create it again
    // (from the start of whatever the stream holds now) and go on, instead of failing every retry.
    if (e.connection() || std::string(e.what()).find("NOGROUP") == std::string::npos) throw;
    log::Warn("files.state relay: consumer group missing (redis flushed or replaced), recreating it",
              {{"stream", stream_}});
    group_ready_ = false;
    EnsureGroup();
    return redis_.Command(args);
  }
}

size_t EventRelay::RunOnce(std::chrono::milliseconds block) {
  const auto reply = GroupCommand({"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT", std::to_string(kBatch),
                                   "BLOCK", std::to_string(block.count()), "STREAMS", stream_, ">"});
  if (reply.IsNil() || reply.elements.empty()) return 0;
  // [[stream, entries]]
  return Publish(reply.elements.at(0).elements.at(1));
}

size_t EventRelay::Reclaim() {
  const auto reply =
      GroupCommand({"XAUTOCLAIM", stream_, kGroup, consumer_, std::to_string(reclaim_idle_.count()), "0-0",
                    "COUNT", std::to_string(kBatch)});
  // [next-start, entries, deleted-ids]
  if (reply.elements.size() < 2) return 0;
  return Publish(reply.elements[1]);
}

size_t EventRelay::ReclaimIfDue(std::chrono::milliseconds every) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_reclaim_ <= every) return 0;
  const size_t published = Reclaim();
  last_reclaim_ = std::chrono::steady_clock::now();
  return published;
}

}  // namespace rainbow::state
