#include "services/s3-converter/src/worker.hpp"

#include "common/logging/log.hpp"

namespace rainbow::converter {

namespace {

log::Fields Ids(const std::string& worker_id, const files::v1::FileRecord& f) {
  return {{"bucket", f.file().bucket()},
          {"key", f.file().key()},
          {"etag", f.file().etag()},
          {"worker_id", worker_id},
          {"attempt", f.attempts()}};
}

// Calls f until it returns or `tries` transport failures happened (tracker calls are idempotent for
// the same worker and attempt, or fenced).
template <typename F>
bool WithRetries(F&& f, int tries, std::atomic<bool>& cancel) {
  for (int i = 1;; ++i) {
    try {
      return f();
    } catch (const TrackerUnavailable& e) {
      if (i >= tries || cancel) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * i));
    }
  }
}

}  // namespace

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
    if (!cv_.wait_for(lock, drain, [&] { return threads_.empty(); })) cancel_ = true;
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
    try {
      files = tracker_.Claim(worker_id, 1, config_.lease);
    } catch (const std::exception& e) {
      log::Warn("claim failed", {{"worker_id", worker_id}, {"error", e.what()}});
    }
    for (const auto& f : files) Process(worker_id, f);
    if (!files.empty()) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, config_.poll_interval, [&] { return stop_ || wakeups_ != seen; });
  }
}

void WorkerPool::Process(const std::string& worker_id, const files::v1::FileRecord& f) {
  const auto ids = Ids(worker_id, f);
  const uint32_t attempt = f.attempts();
  log::Info("converting", ids);
  metrics_.in_flight.Increment();

  // Heartbeats keep the lease while converting; a lost lease cancels the conversion.
  std::atomic<bool> lost{false};
  std::atomic<bool> done{false};
  std::mutex hb_mu;
  std::condition_variable hb_cv;
  std::thread heartbeat([&] {
    std::unique_lock lock(hb_mu);
    while (!hb_cv.wait_for(lock, config_.heartbeat, [&] { return done.load(); })) {
      lock.unlock();
      try {
        if (!tracker_.Heartbeat(f.file(), worker_id, attempt, config_.lease)) {
          lost = true;
          log::Warn("lease lost, cancelling", ids);
        }
      } catch (const std::exception& e) {
        log::Warn("heartbeat failed",
                  {{"key", f.file().key()}, {"worker_id", worker_id}, {"error", e.what()}});
      }
      lock.lock();
      if (lost) break;
    }
  });
  auto stop_heartbeat = [&] {
    {
      std::lock_guard lock(hb_mu);
      done = true;
    }
    hb_cv.notify_all();
    heartbeat.join();
  };

  PipelineHooks hooks = metrics_.Hooks();
  hooks.cancelled = [&] { return lost.load() || cancel_.load(); };
  try {
    const s3::BucketName src_bucket(f.file().bucket());
    const s3::ObjectKey src_key(f.file().key());
    const s3::ObjectKey dst_key(OutputKeyFor(f.file().key()));
    const auto result =
        ConvertObject(s3_, src_bucket, src_key, f.file().etag(), s3::BucketName(config_.output_bucket),
                      dst_key, config_.pipeline, hooks);
    stop_heartbeat();
    auto fields = ids;
    fields["output_key"] = result.output_key;
    fields["sha256"] = result.sha256_hex;
    fields["bytes_in"] = result.bytes_in;
    fields["bytes_out"] = result.bytes_out;
    fields["records"] = result.records;
    fields["parts"] = result.parts;
    fields["seconds"] = result.seconds;
    if (WithRetries(
            [&] {
              return tracker_.Complete(f.file(), worker_id, attempt, result.output_key, result.sha256_hex);
            },
            5, cancel_)) {
      metrics_.Succeeded(result);
      log::Info("completed", fields);
    } else {
      log::Warn("converted, but the lease was lost before Complete (another worker owns the file)", fields);
    }
  } catch (const ConversionError& e) {
    if (heartbeat.joinable()) stop_heartbeat();
    auto fields = ids;
    fields["error"] = e.what();
    fields["reason"] = std::string(ToString(e.reason()));
    fields["retryable"] = e.retryable();
    metrics_.Failed(e.reason());
    if (e.reason() == FailureReason::kCancelled || lost) {
      log::Warn("conversion cancelled", fields);
    } else {
      log::Warn("conversion failed", fields);
      try {
        WithRetries([&] { return tracker_.Fail(f.file(), worker_id, attempt, e.what(), e.retryable()); }, 5,
                    cancel_);
      } catch (const std::exception& te) {
        log::Error("could not report the failure; the lease will expire",
                   {{"key", f.file().key()}, {"error", te.what()}});
      }
    }
  } catch (const std::exception& e) {
    // Invalid bucket/key names (std::invalid_argument) and tracker errors after the conversion.
    if (heartbeat.joinable()) stop_heartbeat();
    auto fields = ids;
    fields["error"] = e.what();
    log::Error("conversion error", fields);
    metrics_.Failed(FailureReason::kInternal);
    try {
      const bool bad_name = dynamic_cast<const std::invalid_argument*>(&e) != nullptr;
      WithRetries([&] { return tracker_.Fail(f.file(), worker_id, attempt, e.what(), !bad_name); }, 5,
                  cancel_);
    } catch (const std::exception&) {
    }
  }
  metrics_.in_flight.Decrement();
}

}  // namespace rainbow::converter
