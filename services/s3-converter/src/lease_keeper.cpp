#include "services/s3-converter/src/lease_keeper.hpp"

#include <algorithm>

#include "common/retry/backoff.hpp"

namespace rainbow::converter {

LeaseKeeper::LeaseKeeper(TrackerClient& tracker, Lease lease, log::Fields ids)
    : tracker_(tracker),
      lease_(std::move(lease)),
      ids_(std::move(ids)),
      deadline_((lease_.claimed_at + lease_.duration - Margin(lease_.duration)).time_since_epoch().count()) {
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

LeaseKeeper::~LeaseKeeper() { Stop(); }

void LeaseKeeper::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

void LeaseKeeper::Run(std::stop_token stop) {
  while (retry::SleepFor(stop, lease_.interval)) {
    const auto sent = std::chrono::steady_clock::now();
    // An answer after the local deadline is no use (the conversion stops there anyway), and waiting
    // longer would hold up Stop: the worker must be free to report and move on. Never longer than the
    // client's usual deadline either: a hung heartbeat is abandoned and the next one tried.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::duration(deadline_.load()) - sent.time_since_epoch());
    const auto wait =
        std::max(left, std::chrono::milliseconds(100));  // TrackerClient caps it at its deadline
    try {
      if (!tracker_.Heartbeat(lease_.file, lease_.worker_id, lease_.attempt, lease_.duration, wait)) {
        lost_ = true;
        log::Warn("lease lost, cancelling", ids_);
        return;
      }
      deadline_ = (sent + lease_.duration - Margin(lease_.duration)).time_since_epoch().count();
    } catch (const std::exception& e) {
      log::Warn("heartbeat failed",
                {{"key", lease_.file.key()}, {"worker_id", lease_.worker_id}, {"error", e.what()}});
    }
    if (expired()) {
      log::Warn("lease expired locally (no heartbeat accepted in time), cancelling", ids_);
      return;
    }
  }
}

}  // namespace rainbow::converter
