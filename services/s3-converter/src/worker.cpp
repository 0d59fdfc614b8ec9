#include "services/s3-converter/src/worker.hpp"

#include "common/logging/log.hpp"
#include "common/retry/backoff.hpp"
#include "services/s3-converter/src/lease_keeper.hpp"

namespace rainbow::converter {

namespace {

log::Fields Ids(const std::string& worker_id, const files::v1::FileRecord& f) {
  return {{"bucket", f.file().bucket()},
          {"key", f.file().key()},
          {"etag", f.file().etag()},
          {"worker_id", worker_id},
          {"attempt", f.attempts()}};
}

// Calls f until it returns, 5 tries failed on transport, or the pool cancels its work (tracker calls
// are idempotent for the same worker and attempt, or fenced).
template <typename F>
bool WithTrackerRetries(F&& f, std::stop_token cancel) {
  return retry::WithRetry(cancel, {std::chrono::milliseconds(200), std::chrono::milliseconds(1'000), 2.0, 5},
                          std::forward<F>(f), [](const std::exception& e) {
                            if (dynamic_cast<const TrackerUnavailable*>(&e) == nullptr) return false;
                            // Said, because the call may have been applied (its reply lost): the retry is
                            // answered as done.
                            log::Warn("state-tracker call failed; retrying", {{"error", e.what()}});
                            return true;
                          });
}

}  // namespace

void WorkerPool::RemoveOrphanOutput(const ConvertResult& result, log::Fields fields) {
  if (result.output_etag.empty()) return;
  try {
    s3_.DeleteObjectIfMatch(s3::BucketName(result.output_bucket), s3::ObjectKey(result.output_key),
                            result.output_etag);
    log::Info("output of a removed source deleted", fields);
  } catch (const std::exception& e) {
    fields["error"] = e.what();
    log::Warn("could not delete the output of a removed source", fields);
  }
}

WorkerPool::WorkerPool(const ConverterConfig& config, s3::S3Client& s3, TrackerClient& tracker,
                       ConverterMetrics& metrics)
    : config_(config), s3_(s3), tracker_(tracker), metrics_(metrics) {}

WorkerPool::~WorkerPool() { Stop(std::chrono::milliseconds(0)); }

void WorkerPool::Start() {
  for (int i = 0; i < config_.workers; ++i) {
    threads_.emplace_back([this, id = config_.worker_id + "-" + std::to_string(i)] { Run(id); });
  }
}

void WorkerPool::Wake() {
  std::lock_guard lock(mu_);
  ++wakeups_;
  cv_.notify_all();
}

void WorkerPool::Stop(std::chrono::milliseconds drain) {
  stop_ = true;
  Wake();
  if (threads_.empty()) return;
  std::thread canceller([this, drain] {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, drain, [&] { return threads_.empty(); })) cancel_.request_stop();
  });
  for (auto& t : threads_) t.join();
  {
    std::lock_guard lock(mu_);
    threads_.clear();
    cv_.notify_all();
  }
  canceller.join();
}

void WorkerPool::Run(const std::string& worker_id) {
  while (!stop_) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = wakeups_;
    }
    std::vector<files::v1::FileRecord> files;
    const auto claimed_at = std::chrono::steady_clock::now();  // the leases run from here
    // While S3 is unhealthy nothing is claimed: a claim would only fail the file's conversion.
    if (healthy_ && !healthy_()) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, config_.poll_interval, [&] { return stop_.load(); });
      continue;
    }
    try {
      files = tracker_.Claim(worker_id, 1, config_.lease);
      if (readiness_ != nullptr) readiness_->Set(kTrackerCondition);
    } catch (const std::exception& e) {
      log::Warn("claim failed", {{"worker_id", worker_id}, {"error", e.what()}});
      if (readiness_ != nullptr)
        readiness_->Set(kTrackerCondition, std::string("state-tracker unreachable: ") + e.what());
    }
    for (const auto& f : files) Process(worker_id, f, claimed_at);
    if (!files.empty()) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, config_.poll_interval, [&] { return stop_ || wakeups_ != seen; });
  }
}

void WorkerPool::Process(const std::string& worker_id, const files::v1::FileRecord& f,
                         std::chrono::steady_clock::time_point claimed_at) {
  const auto ids = Ids(worker_id, f);
  const uint32_t attempt = f.attempts();
  log::Info("converting", ids);
  metrics_.in_flight.Increment();

  // Heartbeats keep the lease while converting; a lease lost, or expired by the local clock (the tracker
  // unreachable), cancels the conversion: the file may be another worker's now.
  LeaseKeeper keeper(tracker_, {f.file(), worker_id, attempt, config_.heartbeat, config_.lease, claimed_at},
                     ids);
  PipelineHooks hooks = metrics_.Hooks();
  hooks.cancelled = [&] { return keeper.ended() || cancel_.stop_requested(); };
  PipelineOptions options = config_.pipeline;
  options.writer = worker_id + "/" + std::to_string(attempt);
  try {
    if (!IsSourceBucket(config_, f.file().bucket())) {
      throw ConversionError(FailureReason::kForbiddenBucket, false,
                            "bucket " + f.file().bucket() + " is not in CONVERTER_SOURCE_BUCKETS");
    }
    const s3::BucketName src_bucket(f.file().bucket());
    const s3::ObjectKey src_key(f.file().key());
    const s3::ObjectKey dst_key(OutputKeyFor(f.file().key()));
    const auto result = ConvertObject(s3_, src_bucket, src_key, f.file().etag(),
                                      s3::BucketName(config_.output_bucket), dst_key, options, hooks);
    keeper.Stop();
    auto fields = ids;
    fields["output_key"] = result.output_key;
    fields["sha256"] = result.sha256_hex;
    fields["bytes_in"] = result.bytes_in;
    fields["bytes_out"] = result.bytes_out;
    fields["records"] = result.records;
    fields["parts"] = result.parts;
    fields["seconds"] = result.seconds;
    std::string refusal;
    if (WithTrackerRetries(
            [&] {
              return tracker_.Complete(f.file(), worker_id, attempt, result.output_key, result.sha256_hex,
                                       &refusal);
            },
            cancel_.get_token())) {
      metrics_.Succeeded(result);
      log::Info("completed", fields);
    } else {
      fields["refusal"] = refusal;
      log::Warn("converted, but the lease was lost before Complete", fields);
      if (refusal.find("file is REMOVED") != std::string::npos) RemoveOrphanOutput(result, fields);
    }
  } catch (const ConversionError& e) {
    keeper.Stop();
    auto fields = ids;
    fields["error"] = e.what();
    fields["reason"] = std::string(ToString(e.reason()));
    fields["retryable"] = e.retryable();
    metrics_.Failed(e.reason());
    if (e.reason() == FailureReason::kCancelled || keeper.ended()) {
      if (keeper.expired() && !keeper.lost()) metrics_.leases_expired.Increment();
      fields["lease"] = keeper.lost() ? "lost" : keeper.expired() ? "expired locally" : "held";
      log::Warn("conversion cancelled", fields);
    } else {
      log::Warn("conversion failed", fields);
      try {
        WithTrackerRetries(
            [&] {
              // A retryable S3 error is S3's, not the file's: it must not use up the file's attempts.
              using Cause = TrackerClient::Cause;
              const Cause cause = e.reason() == FailureReason::kSourceRemoved         ? Cause::kSourceRemoved
                                  : e.reason() == FailureReason::kS3 && e.retryable() ? Cause::kInfrastructure
                                                                                      : Cause::kFile;
              return tracker_.Fail(f.file(), worker_id, attempt, e.what(), e.retryable(), cause);
            },
            cancel_.get_token());
      } catch (const std::exception& te) {
        log::Error("could not report the failure; the lease will expire",
                   {{"key", f.file().key()}, {"error", te.what()}});
      }
    }
  } catch (const std::exception& e) {
    // Invalid bucket/key names (std::invalid_argument) and tracker errors after the conversion.
    keeper.Stop();
    auto fields = ids;
    fields["error"] = e.what();
    log::Error("conversion error", fields);
    metrics_.Failed(FailureReason::kInternal);
    try {
      const bool bad_name = dynamic_cast<const std::invalid_argument*>(&e) != nullptr;
      WithTrackerRetries([&] { return tracker_.Fail(f.file(), worker_id, attempt, e.what(), !bad_name); },
                         cancel_.get_token());
    } catch (const std::exception&) {
    }
  }
  metrics_.in_flight.Decrement();
}

}  // namespace rainbow::converter
