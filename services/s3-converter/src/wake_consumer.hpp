#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/kafka/consumer.hpp"

namespace rainbow::converter {

// True when a files.state event says a file became claimable (PENDING or FAILED).
bool WakesWorkers(std::string_view state_event);

// Wake-ups: every instance reads files.state in its own group from the end; an event that makes a file
// claimable calls `wake` (idle workers claim at once; their poll interval covers lost or late events).
// Threading: one thread (the consumer's); built on it, driven by ops::RunUntilStopped.
class WakeConsumer {
 public:
  WakeConsumer(const std::string& brokers, const std::string& group, const std::string& topic,
               std::function<void()> wake);
  ~WakeConsumer();
  WakeConsumer(const WakeConsumer&) = delete;
  WakeConsumer& operator=(const WakeConsumer&) = delete;

  // Polls one event (waiting up to `wait`); true when it woke the workers.
  bool RunOnce(std::chrono::milliseconds wait);

 private:
  std::function<void()> wake_;
  kafka::Consumer consumer_;
};

// The wake-up thread's body: builds a WakeConsumer, calls `on_ready` (also when it cannot be built:
// polling still works), then runs it until stop. A fatal consumer error ends the wake-ups (logged;
// the workers' poll interval still finds the files).
void RunWakeUps(std::stop_token stop, const std::string& brokers, const std::string& group,
                const std::string& topic, std::function<void()> wake, const std::function<void()>& on_ready);

}  // namespace rainbow::converter
