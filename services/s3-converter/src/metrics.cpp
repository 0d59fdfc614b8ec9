#include "services/s3-converter/src/metrics.hpp"

namespace rainbow::converter {

ConverterMetrics::ConverterMetrics(prometheus::Registry& registry)
    : bytes_in(ops::Counter(registry, "converter_bytes_in_total", "JSON bytes read from S3.")),
      bytes_out(ops::Counter(registry, "converter_bytes_out_total", "XML bytes uploaded to S3.")),
      files(ops::CounterFamily(registry, "converter_files_total",
                               "Files converted, by result (rate = files/s)."),
            {"result"}),
      seconds(ops::Histogram(registry, "converter_conversion_seconds",
                             "Wall time of one S3-to-S3 conversion.",
                             {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300})),
      bytes_per_second(ops::Gauge(registry, "converter_conversion_bytes_per_second",
                                  "Input bytes per second of the last completed conversion.")),
      part_retries(ops::Counter(registry, "converter_part_retries_total",
                                "Upload parts sent again after a retryable error.")),
      failures(ops::CounterFamily(registry, "converter_failures_total", "Failed conversions, by reason."),
               {"reason"}),
      in_flight(ops::Gauge(registry, "converter_in_flight", "Conversions running now.")),
      leases_expired(ops::Counter(registry, "converter_leases_expired_total",
                                  "Conversions stopped because their lease passed its deadline locally "
                                  "(no heartbeat accepted in time).")) {
  files.Get({"completed"});
  files.Get({"failed"});
  for (auto r : {FailureReason::kInvalidJson, FailureReason::kWrongShape, FailureReason::kSourceRemoved,
                 FailureReason::kSourceChanged, FailureReason::kChecksumMismatch, FailureReason::kS3,
                 FailureReason::kVerifyFailed, FailureReason::kCancelled, FailureReason::kForbiddenBucket,
                 FailureReason::kInternal}) {
    failures.Get({std::string(ToString(r))});
  }
}

PipelineHooks ConverterMetrics::Hooks() {
  PipelineHooks h;
  h.on_bytes_in = [this](uint64_t n) { bytes_in.Increment(static_cast<double>(n)); };
  h.on_bytes_out = [this](uint64_t n) { bytes_out.Increment(static_cast<double>(n)); };
  h.on_part_retry = [this] { part_retries.Increment(); };
  return h;
}

void ConverterMetrics::Succeeded(const ConvertResult& r) {
  files.Get({"completed"}).Increment();
  seconds.Observe(r.seconds);
  if (r.seconds > 0) bytes_per_second.Set(static_cast<double>(r.bytes_in) / r.seconds);
}

void ConverterMetrics::Failed(FailureReason reason) {
  files.Get({"failed"}).Increment();
  failures.Get({std::string(ToString(reason))}).Increment();
}

}  // namespace rainbow::converter
