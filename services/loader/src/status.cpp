#include "services/loader/src/status.hpp"

namespace rainbow::loader {

void LoaderStatus::Committed(const std::map<kafka::TopicPartition, int64_t>& next, int64_t events,
                             int64_t facts, int64_t dead, double seconds, double max_freshness) {
  std::lock_guard lock(mu_);
  for (const auto& [p, offset] : next) s_.partitions[p].committed = offset;
  s_.events_loaded += static_cast<uint64_t>(events);
  s_.fact_rows += static_cast<uint64_t>(facts);
  s_.dead_lettered += static_cast<uint64_t>(dead);
  s_.last_batch_events = events;
  s_.last_batch_seconds = seconds;
  s_.last_batch_max_freshness_seconds = max_freshness;
  s_.last_batch_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  s_.warehouse_ok = true;
  // events/s over windows of at least 5 s
  rate_events_ += events;
  const auto now = std::chrono::steady_clock::now();
  const double span = std::chrono::duration<double>(now - rate_since_).count();
  if (span >= 5) {
    s_.events_per_second = static_cast<double>(rate_events_) / span;
    rate_events_ = 0;
    rate_since_ = now;
  }
}

void LoaderStatus::Assigned(const std::map<kafka::TopicPartition, int64_t>& stored) {
  std::lock_guard lock(mu_);
  for (const auto& [p, offset] : stored) s_.partitions[p].committed = offset;
}

void LoaderStatus::EndOffset(const kafka::TopicPartition& p, int64_t end) {
  std::lock_guard lock(mu_);
  s_.partitions[p].end = end;
}

void LoaderStatus::Revoked(const kafka::TopicPartition& p) {
  std::lock_guard lock(mu_);
  s_.partitions.erase(p);
}

void LoaderStatus::Error(const std::string& sink, const std::string& error) {
  std::lock_guard lock(mu_);
  s_.last_error = sink + ": " + error;
  if (sink == "warehouse") s_.warehouse_ok = false;
  if (sink == "lake") s_.lake_ok = false;
  if (sink == "clickhouse") s_.clickhouse_ok = false;
}

void LoaderStatus::ClickHouseEnabled() {
  std::lock_guard lock(mu_);
  s_.clickhouse_enabled = true;
}

void LoaderStatus::ClickHouseCopied(int64_t rows, int64_t versions_behind) {
  std::lock_guard lock(mu_);
  s_.clickhouse_rows += static_cast<uint64_t>(rows);
  s_.clickhouse_versions_behind = versions_behind;
  s_.clickhouse_ok = true;
}

void LoaderStatus::LakeWritten(int64_t events) {
  std::lock_guard lock(mu_);
  s_.lake_events += static_cast<uint64_t>(events);
  s_.lake_ok = true;
}

void LoaderStatus::WarehouseOk() {
  std::lock_guard lock(mu_);
  s_.warehouse_ok = true;
}

LoaderStatus::Snapshot LoaderStatus::Get() const {
  std::lock_guard lock(mu_);
  return s_;
}

}  // namespace rainbow::loader
