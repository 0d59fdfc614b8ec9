#include "services/state-tracker/src/metrics.hpp"

#include <spdlog/spdlog.h>

#include "common/logging/log.hpp"

namespace rainbow::state {

namespace {

log::Fields Ids(const FileRecord& r) {
  return {{"bucket", r.bucket},    {"key", r.key},
          {"etag", r.etag},        {"state", std::string(ToString(r.state))},
          {"attempt", r.attempts}, {"worker_id", r.worker_id}};
}

}  // namespace

TrackerMetrics::TrackerMetrics(prometheus::Registry& registry)
    : files(ops::GaugeFamily(registry, "state_files", "Files per state (refreshed every sweep)."), {"state"}),
      transitions(
          ops::CounterFamily(registry, "state_transitions_total", "File state transitions, by target state."),
          {"to"}),
      lease_expiries(
          ops::Counter(registry, "state_lease_expiries_total", "Leases that expired and were swept.")),
      terminal_failures(
          ops::Counter(registry, "state_terminal_failures_total", "Files that ended terminally FAILED.")),
      claim_latency(ops::Histogram(registry, "state_claim_latency_seconds", "Time to serve a Claim.",
                                   {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})),
      notifications(
          ops::CounterFamily(registry, "state_notifications_total", "files.events messages, by result."),
          {"result"}),
      reconciled(ops::Counter(registry, "state_reconciled_total",
                              "Objects found in S3 by reconciliation that no notification had registered.")) {
  for (auto s : {FileState::kPending, FileState::kInProgress, FileState::kCompleted, FileState::kFailed,
                 FileState::kRemoved}) {
    files.Get({std::string(ToString(s))});
    transitions.Get({std::string(ToString(s))});
  }
  for (const char* r : {"registered", "removed", "duplicate", "skipped", "dead_lettered"})
    notifications.Get({r});
}

void TrackerMetrics::Transition(FileState to) { transitions.Get({std::string(ToString(to))}).Increment(); }

void TrackerMetrics::SetStats(const Stats& s) {
  files.Get({"PENDING"}).Set(static_cast<double>(s.pending));
  files.Get({"IN_PROGRESS"}).Set(static_cast<double>(s.in_progress));
  files.Get({"COMPLETED"}).Set(static_cast<double>(s.completed));
  files.Get({"FAILED"}).Set(static_cast<double>(s.failed));
  files.Get({"REMOVED"}).Set(static_cast<double>(s.removed));
}

void ReportTransition(const FileRecord& record, TrackerMetrics& metrics, const char* why) {
  metrics.Transition(record.state);
  const bool terminal = record.state == FileState::kFailed && !record.retryable;
  // The per-transition info line is the hot path's only log: skip building its fields when info is off.
  if (!terminal && !spdlog::should_log(spdlog::level::info)) return;
  auto fields = Ids(record);
  fields["why"] = why;
  if (!record.error.empty()) fields["error"] = record.error;
  if (record.state == FileState::kFailed && !record.retryable) {
    metrics.terminal_failures.Increment();
    log::Error("file terminally FAILED", fields);
  } else {
    log::Info("transition", fields);
  }
}

}  // namespace rainbow::state
