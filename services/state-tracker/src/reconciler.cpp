#include "services/state-tracker/src/reconciler.hpp"

#include "common/logging/log.hpp"

namespace rainbow::state {

std::optional<std::string> ListPrefix(const std::string& bucket, const std::string& accept_prefix) {
  const std::string head = bucket + "/";
  if (accept_prefix.rfind(head, 0) == 0) return accept_prefix.substr(head.size());
  // accept_prefix shorter than "bucket/" (e.g. "ra" or ""): the whole bucket, filtered per key.
  if (head.rfind(accept_prefix, 0) == 0) return std::string();
  return std::nullopt;
}

Reconciler::Reconciler(s3::S3Client& s3, StateStore& store, TrackerMetrics& metrics,
                       std::vector<std::string> buckets, std::string accept_prefix)
    : s3_(s3),
      store_(store),
      metrics_(metrics),
      buckets_(std::move(buckets)),
      accept_prefix_(std::move(accept_prefix)) {}

size_t Reconciler::RunOnce() {
  size_t registered = 0;
  size_t listed = 0;
  for (const auto& bucket : buckets_) {
    const auto prefix = ListPrefix(bucket, accept_prefix_);
    if (!prefix) continue;
    s3::ListOptions options;
    options.prefix = *prefix;
    for (;;) {
      const auto page = s3_.ListObjectsV2(s3::BucketName(bucket), options);
      for (const auto& o : page.objects) {
        ++listed;
        if (FileId(bucket, o.key).rfind(accept_prefix_, 0) != 0) continue;
        const auto r = store_.RegisterIfAbsent(bucket, o.key, o.etag, o.size);
        if (!r.created) continue;
        ++registered;
        metrics_.reconciled.Increment();
        log::Warn("object registered by reconciliation (its notification never arrived)",
                  {{"bucket", bucket}, {"key", o.key}, {"etag", o.etag}});
        ReportTransition(r.record, metrics_, "reconciled");
      }
      if (page.next_continuation_token.empty()) break;
      options.continuation_token = page.next_continuation_token;
    }
  }
  log::Debug("reconciliation done", {{"listed", listed}, {"registered", registered}});
  return registered;
}

}  // namespace rainbow::state
