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
// a thread of its own heartbeats every `interval`, asking for `lease` each time. When the tracker says
// the lease is lost (another worker owns the file now), lost() turns true for good and heartbeats end;
// the conversion is then to be cancelled. A failed heartbeat (tracker unreachable) is logged and the
// next one tried. Owned by the worker converting the file; lost() may be read from any thread.
class LeaseKeeper {
 public:
  struct Lease {
    files::v1::FileRef file;
    std::string worker_id;
    uint32_t attempt = 0;
    std::chrono::milliseconds interval{10'000};
    std::chrono::milliseconds duration{30'000};
  };

  // `tracker` must outlive this keeper; `ids` are logged with its warnings.
  LeaseKeeper(TrackerClient& tracker, Lease lease, log::Fields ids);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Stops heartbeating (returns once the thread ended); idempotent.
  void Stop();
  bool lost() const { return lost_.load(); }

 private:
  void Run(std::stop_token stop);

  TrackerClient& tracker_;
  const Lease lease_;
  const log::Fields ids_;
  std::atomic<bool> lost_{false};
  std::jthread thread_;  // last: started once the members it reads are set
};

}  // namespace rainbow::converter
