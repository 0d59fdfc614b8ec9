#include "services/s3-converter/src/wake_consumer.hpp"

#include <nlohmann/json.hpp>

#include "common/logging/log.hpp"

namespace rainbow::converter {

bool WakesWorkers(std::string_view state_event) {
  const auto j = nlohmann::json::parse(state_event, nullptr, false);
  return j.is_object() && j.contains("state") && (j["state"] == "PENDING" || j["state"] == "FAILED");
}

WakeConsumer::WakeConsumer(const std::string& brokers, const std::string& group, const std::string& topic,
                           std::function<void()> wake)
    : wake_(std::move(wake)), consumer_({brokers, group, {topic}, "s3-converter", "latest"}) {}

WakeConsumer::~WakeConsumer() { consumer_.Close(); }

bool WakeConsumer::RunOnce(std::chrono::milliseconds wait) {
  const auto m = consumer_.Poll(wait);
  if (!m || !m->value || !WakesWorkers(*m->value)) return false;
  wake_();
  return true;
}

void RunWakeUps(std::stop_token stop, const std::string& brokers, const std::string& group,
                const std::string& topic, std::function<void()> wake, const std::function<void()>& on_ready) {
  try {
    WakeConsumer consumer(brokers, group, topic, std::move(wake));
    on_ready();
    while (!stop.stop_requested()) consumer.RunOnce(std::chrono::milliseconds(200));
  } catch (const std::exception& e) {
    on_ready();  // polling still works
    log::Error("files.state wake-up consumer stopped; polling only", {{"error", e.what()}});
  }
}

}  // namespace rainbow::converter
