#include "services/state-tracker/src/redis_durability.hpp"

#include "common/logging/log.hpp"

namespace rainbow::state {

std::string NonDurableReason(const std::string& appendonly, const std::string& appendfsync) {
  if (appendonly != "yes") return "redis appendonly is '" + appendonly + "' (needs yes)";
  if (appendfsync != "always") return "redis appendfsync is '" + appendfsync + "' (needs always)";
  return "";
}

RedisDurabilityCheck::RedisDurabilityCheck(PipelinedClient& redis, ops::Readiness& readiness, bool required)
    : redis_(redis), readiness_(readiness), required_(required) {
  if (required_) readiness_.AddCondition(kCondition, "redis durability not checked yet");
}

std::string RedisDurabilityCheck::Ask() {
  // CONFIG GET answers [name, value]; a server that refuses CONFIG (renamed away on some managed
  // offerings) cannot be shown durable.
  auto get = [&](const char* name) {
    try {
      const auto reply = redis_.Command({"CONFIG", "GET", name}, PipelinedClient::Resend::kOnce);
      return reply.elements.size() == 2 ? reply.elements[1].str : std::string("(not reported)");
    } catch (const redis::RedisError& e) {
      if (e.connection()) throw;
      return std::string("(unreadable: ") + e.what() + ")";
    }
  };
  return NonDurableReason(get("appendonly"), get("appendfsync"));
}

void RedisDurabilityCheck::Record(const std::string& reason) {
  durable_ = reason.empty();
  {
    std::lock_guard lock(mu_);
    if (reason != last_reason_) {
      last_reason_ = reason;
      if (reason.empty()) {
        log::Info("redis writes are durable (appendonly yes, appendfsync always)");
      } else if (required_) {
        log::Error(
            "redis writes are not durable: files.events is paused and its offsets are not committed "
            "(set appendonly yes and appendfsync always, or STATE_REQUIRE_DURABLE_REDIS=false to "
            "accept losing acknowledged registrations on a crash)",
            {{"reason", reason}});
      } else {
        log::Warn("redis writes are not durable; STATE_REQUIRE_DURABLE_REDIS=false accepts the risk",
                  {{"reason", reason}});
      }
    }
  }
  if (required_) readiness_.Set(kCondition, reason.empty() ? "" : "redis writes are not durable: " + reason);
}

void RedisDurabilityCheck::RunOnce() { Record(Ask()); }

std::string RedisDurabilityCheck::CheckNow() {
  std::string reason;
  try {
    reason = Ask();
  } catch (const std::exception& e) {
    return std::string("redis durability unknown: ") + e.what();
  }
  Record(reason);
  return required_ ? reason : "";
}

}  // namespace rainbow::state
