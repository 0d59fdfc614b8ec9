#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "common/logging/log.hpp"
#include "rainbow/state_tracker.pb.h"
#include "services/s3-converter/src/tracker_client.hpp"

namespace rainbow::converter {

// Keeps a worker's lease on one file while it converts it: from construction to Stop (or destruction),
// a thread of its own heartbeats every `interval`, asking for `duration` each time. When the tracker says
// the lease is lost (another worker owns the file now), lost() turns true for good and heartbeats end.
// A heartbeat that fails (tracker unreachable) is tried again at the next interval, but the lease is only
// as good as the last heartbeat the tracker accepted: expired() turns true once `duration` minus a
// margin has passed since that heartbeat (or the Claim) was sent, on the local steady clock, since by
// then the tracker may have given the file to another worker. Either way the conversion is to stop.
// Owned by the worker converting the file; lost(), expired() and ended() may be read from any thread.
class LeaseKeeper {
 public:
  struct Lease {
    files::v1::FileRef file;
    std::string worker_id;
    uint32_t attempt = 0;
    std::chrono::milliseconds interval{10'000};
    std::chrono::milliseconds duration{30'000};
    // When the Claim that granted the lease was sent: the lease runs from there.
    std::chrono::steady_clock::time_point claimed_at = std::chrono::steady_clock::now();
  };

  // The part of the lease given up as a safety margin: clocks and the tracker's sweep are not exact.
  static std::chrono::milliseconds Margin(std::chrono::milliseconds duration) { return duration / 5; }

  // `tracker` must outlive this keeper; `ids` are logged with its warnings.
  LeaseKeeper(TrackerClient& tracker, Lease lease, log::Fields ids);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Stops heartbeating (returns once the thread ended); idempotent.
  void Stop();
  bool lost() const { return lost_.load(); }
  bool expired() const {
    return std::chrono::steady_clock::now().time_since_epoch().count() >= deadline_.load();
  }
  bool ended() const { return lost() || expired(); }

 private:
  void Run(std::stop_token stop);

  TrackerClient& tracker_;
  const Lease lease_;
  const log::Fields ids_;
  std::atomic<bool> lost_{false};
  std::atomic<std::chrono::steady_clock::rep> deadline_;  // steady_clock ticks; see expired()
  std::jthread thread_;                                   // last: started once the members it reads are set
};

}  // namespace rainbow::converter
