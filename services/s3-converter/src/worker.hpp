#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/logging/log.hpp"
#include "common/ops/readiness.hpp"
#include "common/s3/client.hpp"
#include "services/s3-converter/src/config.hpp"
#include "services/s3-converter/src/metrics.hpp"
#include "services/s3-converter/src/s3_pipeline.hpp"
#include "services/s3-converter/src/tracker_client.hpp"

namespace rainbow::converter {

// The claim loop: `config.workers` threads, each claiming one file at a time from the tracker,
// heartbeating while it converts (a lease lost, or past its deadline on the local clock, cancels the
// conversion: the file may belong to someone else now), then Complete (output key + SHA-256) or Fail (error,
// retryable). Idle workers sleep until Wake() (a files.state PENDING event) or the poll interval. Ownership:
// the caller owns the S3 client, tracker client and metrics; they outlive the pool. Threading: Start/Stop
// from one thread; Wake from any.
class WorkerPool {
 public:
  WorkerPool(const ConverterConfig& config, s3::S3Client& s3, TrackerClient& tracker,
             ConverterMetrics& metrics);
  ~WorkerPool();
  // Before Start: the pool reports the tracker's reachability as the condition "tracker" of
  // `readiness` (which must outlive it), and claims nothing while `healthy` says S3 is down.
  void ReportTo(ops::Readiness* readiness, std::function<bool()> healthy) {
    readiness_ = readiness;
    healthy_ = std::move(healthy);
    if (readiness_ != nullptr) readiness_->AddCondition(kTrackerCondition, "state-tracker not called yet");
  }
  static constexpr const char* kTrackerCondition = "tracker";
  void Start();
  void Wake();
  // Stops claiming; in-flight conversions get until `drain` to finish, then are cancelled.
  void Stop(std::chrono::milliseconds drain);

 private:
  void Run(const std::string& worker_id);
  void Process(const std::string& worker_id, const files::v1::FileRecord& file,
               std::chrono::steady_clock::time_point claimed_at);
  // The source was deleted while it was converted (the tracker made the file REMOVED and refused
  // Complete): no record will ever stand for the output, so the version this conversion wrote is
  // deleted (If-Match: never an object another writer put at the key since). Best effort.
  void RemoveOrphanOutput(const ConvertResult& result, log::Fields fields);

  const ConverterConfig& config_;
  s3::S3Client& s3_;
  TrackerClient& tracker_;
  ConverterMetrics& metrics_;
  ops::Readiness* readiness_ = nullptr;
  std::function<bool()> healthy_;
  std::atomic<bool> stop_{false};
  std::stop_source cancel_;  // requested when the drain time is over: in-flight work is cancelled
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace rainbow::converter
