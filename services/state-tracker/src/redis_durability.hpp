#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "common/ops/readiness.hpp"
#include "services/state-tracker/src/redis_pipeline.hpp"

namespace rainbow::state {

// Why Redis' persistence settings can lose an acknowledged write, or "" when they cannot: the AOF must
// be on and fsynced before every reply (appendfsync always). With `everysec` a crash of the machine
// loses up to a second of writes that were already acknowledged, and files.events offsets committed
// after them would then skip those notifications for good.
std::string NonDurableReason(const std::string& appendonly, const std::string& appendfsync);

// Checks that Redis makes writes durable before it answers (CONFIG GET appendonly / appendfsync; the
// Redis this project runs is 7.0, which has no WAITAOF), and reports it as the readiness condition
// "redis durability". The files.events consumer pauses while the last check failed and checks again
// right before each offset commit (CheckNow), so an offset is committed only after Redis said its
// writes are fsynced before the reply. `required` false (STATE_REQUIRE_DURABLE_REDIS=false) accepts the
// risk: the check still logs, but neither readiness nor commits depend on it.
// Owned by main; RunOnce from one background thread, Durable/CheckNow from any thread.
class RedisDurabilityCheck {
 public:
  static constexpr const char* kCondition = "redis durability";

  // Adds the condition to `readiness` (unmet until the first check passes, when required).
  RedisDurabilityCheck(PipelinedClient& redis, ops::Readiness& readiness, bool required);

  // Asks Redis; updates readiness and Durable(). Throws redis::RedisError when Redis is unreachable
  // (the last result stands).
  void RunOnce();
  // Asks Redis now; returns why its writes are not durable ("" when they are, or not required).
  // Never throws: an unreachable Redis is a reason.
  std::string CheckNow();
  // The last check's verdict (true when not required).
  bool Durable() const { return !required_ || durable_.load(); }
  bool required() const { return required_; }

 private:
  std::string Ask();  // "" or the reason; throws on connection errors
  void Record(const std::string& reason);

  PipelinedClient& redis_;
  ops::Readiness& readiness_;
  const bool required_;
  std::atomic<bool> durable_{false};
  std::mutex mu_;
  std::string last_reason_ = "unchecked";  // under mu_: logs only changes
};

}  // namespace rainbow::state
