#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

namespace rainbow::ops {

struct LoopOptions {
  std::chrono::milliseconds pause{0};          // after a step that succeeded (0: the next step at once)
  std::chrono::milliseconds error_pause{500};  // after a step that threw
};

// The one runner of every background worker (a class with RunOnce(): a consumer, a relay, a sweeper):
// calls `step` until `stop` is requested. A step that throws is logged as "<what> failed, retrying"
// and the next comes after options.error_pause; waits end early on stop. Runs on the caller's thread
// (typically a std::jthread, whose stop token this is).
void RunUntilStopped(std::stop_token stop, const std::string& what, const std::function<void()>& step,
                     LoopOptions options = {});

}  // namespace rainbow::ops
