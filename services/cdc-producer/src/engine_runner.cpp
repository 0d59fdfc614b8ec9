#include "services/cdc-producer/src/engine_runner.hpp"

#include <future>

#include "common/logging/log.hpp"
#include "services/cdc-producer/src/cdc_engine.hpp"

namespace rainbow::cdc {

int RunUntilSignal(CdcEngine& engine, const SignalWait& wait) {
  auto result = std::async(std::launch::async, [&engine] { return engine.Run(); });
  while (result.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    if (const auto sig = wait(std::chrono::milliseconds(200))) {
      log::Info("draining", {{"signal", *sig}});
      engine.RequestStop();
      break;
    }
  }
  return result.get();
}

}  // namespace rainbow::cdc
