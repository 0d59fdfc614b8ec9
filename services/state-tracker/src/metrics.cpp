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
    : files(prometheus::BuildGauge()
                .Name("state_files")
                .Help("Files per state (refreshed every sweep).")
                .Register(registry)),
      transitions(prometheus::BuildCounter()
                      .Name("state_transitions_total")
                      .Help("File state transitions, by target state.")
                      .Register(registry)),
      lease_expiries(prometheus::BuildCounter()
                         .Name("state_lease_expiries_total")
                         .Help("Leases that expired and were swept.")
                         .Register(registry)
                         .Add({})),
      terminal_failures(prometheus::BuildCounter()
                            .Name("state_terminal_failures_total")
                            .Help("Files that ended terminally FAILED.")
                            .Register(registry)
                            .Add({})),
      claim_latency(prometheus::BuildHistogram()
                        .Name("state_claim_latency_seconds")
                        .Help("Time to serve a Claim.")
                        .Register(registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                         0.025, 0.05, 0.1, 0.25, 1})),
      notifications(prometheus::BuildCounter()
                        .Name("state_notifications_total")
                        .Help("files.events messages, by result.")
                        .Register(registry)) {
  for (auto s : {FileState::kPending, FileState::kInProgress, FileState::kCompleted, FileState::kFailed}) {
    files.Add({{"state", std::string(ToString(s))}});
    transitions_to.at(static_cast<size_t>(s)) = &transitions.Add({{"to", std::string(ToString(s))}});
  }
  for (const char* r : {"registered", "duplicate", "skipped", "dead_lettered"})
    notifications.Add({{"result", r}});
}

void TrackerMetrics::Transition(FileState to) { transitions_to.at(static_cast<size_t>(to))->Increment(); }

void TrackerMetrics::SetStats(const Stats& s) {
  files.Add({{"state", "PENDING"}}).Set(static_cast<double>(s.pending));
  files.Add({{"state", "IN_PROGRESS"}}).Set(static_cast<double>(s.in_progress));
  files.Add({{"state", "COMPLETED"}}).Set(static_cast<double>(s.completed));
  files.Add({{"state", "FAILED"}}).Set(static_cast<double>(s.failed));
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
