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
                       std::string topic, std::string consumer_name, std::chrono::milliseconds reclaim_idle)
    : redis_(std::move(redis)),
      stream_(std::move(prefix) + "outbox"),
      producer_(producer),
      topic_(std::move(topic)),
      consumer_(std::move(consumer_name)),
      reclaim_idle_(reclaim_idle) {}

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
  struct Pending {
    std::string id;
    std::atomic<bool> ok{false};
  };
  std::vector<std::unique_ptr<Pending>> batch;
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
    batch.push_back(std::move(p));
    producer_.Produce({topic_, key, event}, [raw](const kafka::DeliveryReport& r) {
      raw->ok = r.ok;
      if (!r.ok) log::Warn("files.state event not delivered; will retry", {{"error", r.error}});
    });
  }
  if (batch.empty()) return 0;
  producer_.Flush(std::chrono::seconds(30));
  std::vector<std::string> ack = {"XACK", stream_, kGroup};
  std::vector<std::string> del = {"XDEL", stream_};
  for (const auto& p : batch) {
    if (!p->ok) continue;
    ack.push_back(p->id);
    del.push_back(p->id);
  }
  if (ack.size() == 3) return 0;
  redis_.Command(ack);
  redis_.Command(del);
  return ack.size() - 3;
}

size_t EventRelay::RunOnce(std::chrono::milliseconds block) {
  EnsureGroup();
  const auto reply =
      redis_.Command({"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT", std::to_string(kBatch), "BLOCK",
                      std::to_string(block.count()), "STREAMS", stream_, ">"});
  if (reply.IsNil() || reply.elements.empty()) return 0;
  // [[stream, entries]]
  return Publish(reply.elements.at(0).elements.at(1));
}

size_t EventRelay::Reclaim() {
  EnsureGroup();
  const auto reply =
      redis_.Command({"XAUTOCLAIM", stream_, kGroup, consumer_, std::to_string(reclaim_idle_.count()), "0-0",
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
