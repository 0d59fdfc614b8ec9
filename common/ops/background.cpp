#include "common/ops/background.hpp"

#include "common/logging/log.hpp"
#include "common/retry/backoff.hpp"

namespace rainbow::ops {

void RunUntilStopped(std::stop_token stop, const std::string& what, const std::function<void()>& step,
                     LoopOptions options) {
  while (!stop.stop_requested()) {
    try {
      step();
      if (options.pause.count() > 0) retry::SleepFor(stop, options.pause);
    } catch (const std::exception& e) {
      log::Warn(what + " failed, retrying", {{"error", e.what()}});
      retry::SleepFor(stop, options.error_pause);
    }
  }
}

}  // namespace rainbow::ops
